"""Kill -9 tests of progress.store: a process dies anywhere, nothing stored is lost.

A writer process adds (and sometimes deletes) photos in a loop; the test kills it with
SIGKILL at random moments, reopens the folder and checks that every photo row has an
intact file, and that any stray file the crash left is reported and then removed by
``check_integrity(repair=True)``. Three more writers die at chosen points (after the file
is written but before its row, inside the atomic write, after a row is deleted but
before its file) so that each kind of leftover is seen at least once.

The writers are forked from one helper subprocess (``sys.executable -c``) that has
imported numpy, Pillow, SQLAlchemy and progress once, so that a round costs a fork rather
than a 1.5 s interpreter start; each writer opens its own Store after the fork.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import random
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image

from progress.store import Store

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL") or not hasattr(os, "fork"), reason="needs POSIX fork + SIGKILL"
)

ROUNDS = 30
SEED = 20240531

# The helper: reads "<data_dir> <seed> <mode>" lines; for each, forks a writer, prints
# "pid N", waits for the writer to end and prints "exit CODE". A writer prints "ready"
# once its Store is open and then writes until it is killed (or kills itself in a mode).
HELPER = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import date
    import numpy as np
    from progress.loader import to_png_bytes
    from progress.store import Store

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    def write(data_dir, seed, mode):
        store = Store(data_dir=data_dir, cleanup_temps=False)
        client = next(iter(store.clients()), None) or store.add_client("Crash Test")
        area = next(iter(store.areas(client.id)), None) or store.add_area(client.id, "cheek")
        session = store.session_for_date(area.id, date(2024, 1, 1 + seed % 28))
        rng = np.random.default_rng(seed)
        if mode == "row":          # file written and synced, row never committed
            Store._insert_photo_row = die
        elif mode == "tmp":        # temporary file written, never renamed
            os.replace = die
        elif mode == "unlink":     # row deleted and committed, file never unlinked
            Store._unlink_unreferenced = die
        print("ready", flush=True)
        i = 0
        while True:
            data = to_png_bytes(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
            rec = store.add_photo(session.id, data, name=f"p{i}.png")
            store.save_result(rec.id, {"i": i, "seed": seed})
            if i % 3 == 2:
                store.delete_photo(rec.id)
            i += 1

    while True:
        line = sys.stdin.readline()
        if not line:
            break
        data_dir, seed, mode = line.split()
        pid = os.fork()
        if pid == 0:
            try:
                write(data_dir, int(seed), mode)
            finally:
                os._exit(3)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {os.waitstatus_to_exitcode(status)}", flush=True)
    """
)


class Helper:
    """The forking helper subprocess, with a line reader that never blocks forever."""

    def __init__(self, err_path: Path) -> None:
        self._err = err_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HELPER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
        )
        self._err_path = err_path
        self._buffer = b""

    def _line(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            chunk = os.read(self.proc.stdout.fileno(), 4096) if ready else b""
            if not chunk:
                raise AssertionError(
                    f"helper said nothing more: {self._err_path.read_text(errors='replace')}"
                )
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def run(self, data_dir: Path, seed: int, mode: str, *, delay: float | None) -> None:
        """Fork a writer; SIGKILL it `delay` s after it is ready (negative: that long after
        the fork, ready or not; None: it kills itself). Returns once it is dead."""
        self.proc.stdin.write(f"{data_dir} {seed} {mode}\n".encode())
        self.proc.stdin.flush()
        lines = [self._line()]
        if delay is not None and delay < 0:
            time.sleep(-delay)
        elif delay is not None:
            while "ready" not in lines:
                lines.append(self._line())
            time.sleep(delay)
        pid = int(next(x for x in lines if x.startswith("pid "))[4:])
        if delay is not None:
            with contextlib.suppress(ProcessLookupError):  # died already
                os.kill(pid, signal.SIGKILL)
        while not any(x.startswith("exit ") for x in lines):
            lines.append(self._line())
        code = int(next(x for x in lines if x.startswith("exit "))[5:])
        assert code == -signal.SIGKILL, (
            f"writer ended with {code}, not by SIGKILL: {self._err_path.read_text(errors='replace')}"
        )

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self._err.close()


@pytest.fixture
def helper(tmp_path):
    h = Helper(tmp_path / "helper-stderr.txt")
    yield h
    h.close()


def verify_after_crash(data_dir: Path) -> tuple[int, int]:
    """Check the folder after a crash, repair it; return (photos, stray files found)."""
    photo_dir = data_dir / "photos"
    with Store(data_dir=data_dir, cleanup_temps=False) as store:
        photos = store.photos()
        report = store.check_integrity()
        assert report.missing == () and report.corrupt == (), report
        assert report.checked == len(photos)
        referenced = set()
        for p in photos:
            data = store.photo_bytes(p.id)
            assert hashlib.sha256(data).hexdigest() == p.sha256
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                assert im.size == (p.width, p.height) == (32, 24)
            result = store.result(p.id)
            assert result is None or set(result) >= {"i", "seed"}
            referenced.add(f"{p.sha256[:2]}/{p.sha256}.jpg")
        on_disk = {
            f.relative_to(photo_dir).as_posix()
            for f in photo_dir.rglob("*")
            if f.is_file() and f.name != ".lock"
        }
        assert referenced <= on_disk
        stray = on_disk - referenced
        # Every stray file is noticed, each in its right list.
        assert set(report.temp_files) == {s for s in stray if s.endswith(".tmp")}
        assert set(report.orphans) == {s for s in stray if not s.endswith(".tmp")}
        repaired = store.check_integrity(repair=True)
        assert set(repaired.removed) == stray
        after = {
            f.relative_to(photo_dir).as_posix()
            for f in photo_dir.rglob("*")
            if f.is_file() and f.name != ".lock"
        }
        assert after == referenced
        assert store.check_integrity().ok
        assert [p.id for p in store.photos()] == [p.id for p in photos]
    return len(photos), len(stray)


@pytest.mark.slow
def test_random_sigkill_never_loses_or_corrupts_a_photo(tmp_path, helper):
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    strays = 0
    count = 0
    for round_no in range(ROUNDS):
        # Mostly while adding photos; one round in five while the writer opens its Store.
        delay = -rng.uniform(0.0, 0.15) if rng.random() < 0.2 else rng.uniform(0.0, 0.3)
        helper.run(data_dir, SEED + round_no, "loop", delay=delay)
        count, found = verify_after_crash(data_dir)
        strays += found
    assert count > 0  # the children did store photos
    print(f"{ROUNDS} kills: {count} photos kept, {strays} stray files noticed and removed")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["row", "tmp", "unlink"])
def test_death_at_each_critical_point_leaves_a_noticed_stray_file(tmp_path, helper, mode):
    data_dir = tmp_path / "data"
    helper.run(data_dir, 1, mode, delay=None)  # "unlink" dies at the first delete (i == 2)
    photo_dir = data_dir / "photos"
    with Store(data_dir=data_dir, cleanup_temps=False) as store:
        report = store.check_integrity()
        assert report.missing == () and report.corrupt == ()
        expected_photos = {"row": 0, "tmp": 0, "unlink": 2}[mode]
        assert len(store.photos()) == expected_photos
        if mode == "tmp":
            assert len(report.temp_files) == 1 and report.orphans == ()
        else:
            assert len(report.orphans) == 1 and report.temp_files == ()
        stray = photo_dir / (report.temp_files or report.orphans)[0]
        assert stray.is_file()
        repaired = store.check_integrity(repair=True)
        assert repaired.ok and not stray.exists()
    # Opening normally (cleanup_temps=True) is also enough for a temporary file.
    if mode == "tmp":
        helper.run(data_dir, 2, mode, delay=None)
        assert list(photo_dir.glob("*/*.tmp"))
        Store(data_dir=data_dir).close()
        assert not list(photo_dir.glob("*/*.tmp"))
