"""Timing and memory helpers shared by the benchmark scripts."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np


@dataclass
class Timing:
    """Wall and CPU seconds of repeated runs, and the traced peak of one run."""

    wall: list[float]
    cpu: list[float]
    peak_mib: float = float("nan")
    result: Any = None

    @property
    def median(self) -> float:
        return float(np.median(self.wall))

    @property
    def best(self) -> float:
        return float(min(self.wall))

    @property
    def cpu_median(self) -> float:
        return float(np.median(self.cpu))


def timed(fn: Callable[[], Any], repeat: int = 5, *, memory: bool = True) -> Timing:
    """Run ``fn`` ``repeat`` times; the last run is traced for its peak of numpy memory.

    ``peak_mib`` is the peak of memory allocated *during* the call as seen by
    ``tracemalloc`` (NumPy and OpenCV output arrays register there; OpenCV's internal
    scratch buffers do not), so it excludes the inputs.
    """
    wall, cpu, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    peak = float("nan")
    if memory:
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return Timing(wall, cpu, peak, out)


def max_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB.

    Linux: ``VmHWM`` of ``/proc/self/status`` (``ru_maxrss`` would carry the parent's
    peak over ``fork``/``exec``); elsewhere ``ru_maxrss``.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    """One line about the machine and its load (timings on a shared machine vary)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"CPUs: {os.cpu_count()}; OpenCV threads: {cv2.getNumThreads()}; "
        f"load average (1 min) before: {load:.1f}"
    )


def run_child(script: str | Path, mode: str) -> dict:
    """Run ``script --child mode`` in a fresh interpreter (its own peak memory) and return
    the JSON object it prints on its last line."""
    out = subprocess.run(
        [sys.executable, str(script), "--child", mode],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])
