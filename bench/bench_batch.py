"""Throughput of the batch command at 12 MP, with 1 and 2 worker processes.

Run: ``python bench/bench_batch.py [--photos 8] [--repeat 3] [--workers 1 2]``.

The photos are the bundled sample series upscaled to 4000×3000 JPEG (``_photos.py``,
made once and cached), linked into a temporary folder laid out as the command expects
(``FOLDER/sample-client/left-cheek/*.jpg``): the baseline is the area's reference and
every other photo is aligned to it. Each run is the real command,
``python -m progress analyze FOLDER --out results.csv --workers N``, in a fresh process
with a fresh output file; its wall time includes starting Python and importing the
library, which is measured separately (the same command on an empty folder) and
reported as "startup".

Figures: median wall time over ``--repeat`` runs; photos per second; photos per second
per core (``workers`` processes on ``workers`` cores; target ≥ 1 at 12 MP), with and
without the startup; and the CPU seconds per photo of the command and its workers (all
threads), which other programs on a shared machine disturb less than the wall time: its
inverse is the throughput per core of an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine  # noqa: E402
from _photos import photo_files  # noqa: E402


def command(
    folder: Path, out: Path, workers: int
) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run the command: wall s, CPU s (the command and its workers), the result."""
    cmd = [sys.executable, "-m", "progress", "analyze", str(folder), "--out", str(out)]
    cmd += ["--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    sources = photo_files(args.photos)
    print(machine())
    with tempfile.TemporaryDirectory(prefix="progress-bench-batch-") as tmp:
        root = Path(tmp)
        area = root / "photos" / "sample-client" / "left-cheek"
        area.mkdir(parents=True)
        for src in sources:
            os.symlink(src, area / src.name)
        (root / "empty").mkdir()
        startup = float(
            np.median(
                [command(root / "empty", root / f"e{i}.csv", 1)[0] for i in range(args.repeat)]
            )
        )
        print(
            f"{len(sources)} photos, 4000×3000 JPEG, one area (the first is the reference); "
            f"median of {args.repeat} runs; startup (empty folder) {startup:.2f} s"
        )
        print(
            f"{'workers':>7s} {'wall s':>7s} {'photo/s':>8s} {'photo/s/core':>13s} "
            f"{'(− startup)':>12s} {'CPU s/photo':>12s} {'load 1 min':>10s}"
        )
        for workers in args.workers:
            walls, cpus, loads = [], [], []
            for i in range(args.repeat):
                out = root / f"r{workers}-{i}.csv"
                loads.append(os.getloadavg()[0])
                wall, cpu, res = command(root / "photos", out, workers)
                if res.returncode != 0:
                    raise SystemExit(f"the command failed:\n{res.stderr}")
                with out.open(newline="", encoding="utf-8") as fh:
                    rows = list(csv.DictReader(fh))
                if len(rows) != len(sources):
                    raise SystemExit(f"{len(rows)} rows for {len(sources)} photos:\n{res.stderr}")
                walls.append(wall)
                cpus.append(cpu)
            wall = float(np.median(walls))
            rate = len(sources) / wall
            net = len(sources) / max(wall - startup, 1e-9)
            print(
                f"{workers:7d} {wall:7.2f} {rate:8.2f} {rate / workers:13.2f} "
                f"{net / workers:12.2f} {np.median(cpus) / len(sources):12.2f} "
                f"{np.median(loads):10.1f}"
            )
        last = rows[-1]
        print(
            f"check: {len(rows)} rows; last row {last['file']}: alignment confidence "
            f"{last['alignment_confidence'] or '(reference)'}, quality {last['quality_status']}"
        )


if __name__ == "__main__":
    main()
