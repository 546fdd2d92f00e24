"""The batch command: analyse a whole folder of photos on every core.

Usage: ``python -m progress analyze FOLDER --out results.csv [--json results.json]
[--workers N]``.

Folder layout
-------------
::

    FOLDER/<client>/<area>/<photo files>    e.g. archive/anna-k/left-cheek/IMG_0412.HEIC
    FOLDER/<client>/<photo files>           area "default"
    FOLDER/<photo files>                    client = FOLDER's name, area "default"

Deeper sub-folders belong to the area above them (``FOLDER/anna-k/left-cheek/2026/x.jpg``
is in client ``anna-k``, area ``left-cheek``). Files and folders whose name starts with
``.`` are ignored, and so are files that are not photos by their extension (JPEG, PNG,
TIFF, WebP, HEIC/HEIF, ...: :data:`progress.loader.SUPPORTED_EXTENSIONS`).

What is done
------------
Within an area the photos are ordered by their EXIF capture time (then file name; photos
without a date come last). The first is the area's *reference*: it is measured in its own
frame (region = its skin mask), and every other photo of the area is aligned to it and
measured inside the reference's skin region (:func:`progress.pipeline.analyse`). Each
photo is one row of the CSV: client, area, file (relative to FOLDER), capture time, the
reference file, the alignment's confidence, residual and reason, the quality status and
warnings, and every metric of :data:`progress.metrics.METRICS` (one column each, by key).
``--json`` also writes all rows of the CSV as JSON (numbers as numbers, a missing value as
``null``).

The photos are analysed by a pool of processes, one per core by default, and each row is
written as soon as its photo is done, so that an interrupted run loses nothing. A second
run with the same ``--out`` skips the photos already in it (resumable). Adding a photo
*older* than an area's reference changes the reference only for the photos not analysed
yet: start a new ``--out`` to re-measure a whole area against a new reference.

A file that cannot be read (not an image, truncated, corrupt, too large) is reported on
one line on stderr and skipped; it is not written to the CSV, so a later run retries it.
The exit status is non-zero only for a fatal error: a missing folder, an output that
cannot be written or holds other columns, a worker process that died.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TextIO

from progress.errors import ProgressError
from progress.loader import SUPPORTED_EXTENSIONS, load_image, read_taken_at
from progress.metrics import METRICS

__all__ = [
    "META_COLUMNS",
    "BatchError",
    "Job",
    "Summary",
    "analyse_job",
    "columns",
    "default_workers",
    "discover",
    "run",
]

META_COLUMNS = [
    "client",
    "area",
    "file",
    "taken_at",
    "is_reference",
    "reference_file",
    "alignment_confidence",
    "alignment_residual_px",
    "alignment_reason",
    "quality_status",
    "quality_warnings",
]

# Photos in flight per worker: enough to keep every worker busy, few enough that an
# interrupted run has little to throw away.
_IN_FLIGHT_PER_WORKER = 2


class BatchError(ProgressError, ValueError):
    """A fatal error of the batch command (the run cannot go on)."""


@dataclass(frozen=True)
class Job:
    """One photo to analyse, with its area's reference photo.

    Attributes
    ----------
    client, area : str
        From the folder layout.
    path : Path
        The photo.
    reference : Path
        The area's reference photo (``path`` itself for the reference).
    rel : str
        ``path`` relative to the batch folder, with ``/`` (the CSV's ``file`` column).
    reference_rel : str
        ``reference`` relative to the batch folder.
    """

    client: str
    area: str
    path: Path
    reference: Path
    rel: str
    reference_rel: str


@dataclass(frozen=True)
class Summary:
    """What one :func:`run` did.

    Attributes
    ----------
    analysed : int
        Photos analysed and written in this run.
    already_done : int
        Photos skipped because the output already held them.
    failed : tuple of str
        One message per photo that could not be read or analysed (not written).
    """

    analysed: int
    already_done: int
    failed: tuple[str, ...]


def columns() -> list[str]:
    """The CSV columns: :data:`META_COLUMNS`, then every metric key."""
    return META_COLUMNS + list(METRICS)


def discover(folder: Path) -> dict[tuple[str, str], list[Path]]:
    """Group the photos below ``folder`` by (client, area) from the folder layout.

    Parameters
    ----------
    folder : Path
        The batch folder (see the module docstring for the layout).

    Returns
    -------
    dict
        ``{(client, area): [photo paths, sorted by path]}``.
    """
    exts = {"." + e.lower().lstrip(".") for e in SUPPORTED_EXTENSIONS}
    groups: dict[tuple[str, str], list[Path]] = {}
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(p.startswith(".") for p in parts) or path.suffix.lower() not in exts:
            continue
        if not path.is_file():
            continue
        if len(parts) >= 3:
            key = (parts[0], parts[1])
        elif len(parts) == 2:
            key = (parts[0], "default")
        else:
            key = (folder.resolve().name or "client", "default")
        groups.setdefault(key, []).append(path)
    return groups


def _order(paths: list[Path], folder: Path) -> tuple[list[Path], list[str]]:
    """Order an area's photos by capture time, then name; unreadable ones are reported
    (``"<path relative to folder>: <reason>"``)."""
    dated, errors = [], []
    for p in paths:
        try:
            taken = read_taken_at(p)
        except (ProgressError, OSError) as exc:
            errors.append(f"{p.relative_to(folder).as_posix()}: {exc}")
            continue
        key = (0, taken.isoformat()) if taken else (1, "")
        dated.append((key, p.name, p))
    dated.sort(key=lambda t: (t[0], t[1]))
    return [p for _, _, p in dated], errors


@lru_cache(maxsize=2)
def _reference(path: str):
    from progress.pipeline import Reference

    return Reference.from_photo(load_image(path).rgb)


def analyse_job(job: Job) -> dict[str, object]:
    """Analyse one photo (runs in a worker process); never raises for a bad photo.

    Returns
    -------
    dict
        The CSV row, or ``{"file": ..., "error": "<file>: <reason>"}`` when the photo
        (or its area's reference) cannot be read or analysed.
    """
    from progress.pipeline import analyse

    row: dict[str, object] = {"client": job.client, "area": job.area, "file": job.rel}
    try:
        photo = load_image(job.path)
        is_ref = job.path == job.reference
        if is_ref:
            reference = None
        else:
            try:
                reference = _reference(str(job.reference))
            except ProgressError as exc:
                raise BatchError(
                    f"not analysed: the area's reference photo {job.reference_rel} cannot "
                    f"be used ({exc})"
                ) from None
        result = analyse(photo.rgb, reference=reference)
    except ProgressError as exc:
        return {"file": job.rel, "error": f"{job.rel}: {exc}"}
    except Exception as exc:  # a bug or a library failure on one photo: the batch goes on
        return {"file": job.rel, "error": f"{job.rel}: failed ({type(exc).__name__}: {exc})"}
    row["taken_at"] = photo.taken_at.isoformat() if photo.taken_at else ""
    row["is_reference"] = int(is_ref)
    row["reference_file"] = job.reference_rel
    if result.alignment is not None:
        row["alignment_confidence"] = round(float(result.alignment.confidence), 4)
        row["alignment_residual_px"] = round(float(result.alignment.residual_px), 3)
        row["alignment_reason"] = result.alignment.reason
    row["quality_status"] = result.quality.status
    row["quality_warnings"] = " | ".join(result.quality.warnings)
    row.update(result.metrics)
    return row


# ------------------------------------------------------------------------------ output


def _prepare_output(out: Path, cols: list[str]) -> tuple[set[str], bool]:
    """Check an existing output and read the photos it holds.

    Returns the ``file`` values already written and whether a header must be written.
    A last row cut short by a crash is removed (its photo is analysed again).
    """
    if out.is_dir():
        raise BatchError(f"--out {out} is a folder; give a CSV file name.")
    if not out.exists() or out.stat().st_size == 0:
        return set(), True
    data = out.read_bytes()
    if not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with out.open("r+b") as fh:
            fh.truncate(cut)
        if cut == 0:
            return set(), True
    with out.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != cols:
            raise BatchError(
                f"{out} holds other columns than this version writes (another program "
                "or version wrote it); give a new --out file."
            )
        done = {r["file"] for r in reader if r.get("file") and r.get(cols[-1]) is not None}
    return done, False


_NUMBER_COLUMNS = {"alignment_confidence", "alignment_residual_px"}


def _json_row(row: dict[str, str]) -> dict[str, object]:
    """A CSV row with numbers as JSON numbers (an empty or NaN value becomes null)."""
    out: dict[str, object] = {}
    for key, value in row.items():
        if key in METRICS or key in _NUMBER_COLUMNS:
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            out[key] = number if math.isfinite(number) else None
        elif key == "is_reference" and value in ("0", "1"):
            out[key] = int(value)
        else:
            out[key] = value
    return out


def _write_json(out: Path, json_out: Path) -> None:
    with out.open(newline="", encoding="utf-8") as fh:
        rows = [_json_row(r) for r in csv.DictReader(fh)]
    text = json.dumps({"photos": rows}, indent=1, ensure_ascii=False, allow_nan=False)
    tmp = json_out.with_name(json_out.name + ".tmp")
    tmp.write_text(text, "utf-8")
    tmp.replace(json_out)


# ---------------------------------------------------------------------------- progress


class _Progress:
    """A progress bar on a terminal; otherwise a line per 10 % (at most one per 5 s)."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream, self.done = total, stream, 0
        self.start = self.last = time.monotonic()
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.next_pct = 10

    def _text(self) -> str:
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 and self.done else 0.0
        left = (self.total - self.done) / rate if rate else math.nan
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        tail = f", {rate:.2f} photo/s, {_clock(left)} left" if rate else ""
        return f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}{tail}"

    def step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.tty:
            print("\r" + self._text(), end="", file=self.stream, flush=True)
        elif self.done == self.total or (
            100 * self.done >= self.next_pct * self.total and now - self.last >= 5
        ):
            print(self._text(), file=self.stream, flush=True)
            self.last = now
            self.next_pct = 10 * (100 * self.done // max(self.total, 1) // 10 + 1)

    def message(self, text: str) -> None:
        if self.tty:
            print("\r\x1b[2K" + text, file=self.stream)
            print("\r" + self._text(), end="", file=self.stream, flush=True)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty and self.total:
            print("", file=self.stream, flush=True)


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


# ------------------------------------------------------------------------------- run


def default_workers() -> int:
    """The number of cores this process may use (the default number of workers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _init_worker(threads: int) -> None:
    """Worker start: share the cores between the processes instead of oversubscribing,
    and let Ctrl-C end a worker at once (the main process keeps the rows written)."""
    import signal

    import cv2

    cv2.setNumThreads(threads)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _take(it: Iterator[Job], n: int) -> Iterable[Job]:
    for _ in range(n):
        job = next(it, None)
        if job is None:
            return
        yield job


def _execute(jobs: list[Job], workers: int) -> Iterator[dict[str, object]]:
    """The rows of ``jobs``, in the order they finish."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield analyse_job(job)
        return
    threads = max(1, default_workers() // workers)
    # Import the analysis once here: forked workers inherit it instead of each importing.
    import progress.pipeline  # noqa: F401

    pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(threads,))
    pending: set[Future] = set()
    queue = iter(jobs)  # grouped by area: each worker keeps few references in its cache
    try:
        for job in _take(queue, workers * _IN_FLIGHT_PER_WORKER):
            pending.add(pool.submit(analyse_job, job))
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                row = fut.result()
                for job in _take(queue, 1):
                    pending.add(pool.submit(analyse_job, job))
                yield row
    except BrokenProcessPool:
        raise BatchError(
            "a worker process died (out of memory?); the rows written so far are kept: "
            "run the same command again, with fewer --workers, to go on."
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run(
    folder: Path,
    out: Path,
    *,
    json_out: Path | None = None,
    workers: int | None = None,
    stream: TextIO | None = None,
) -> Summary:
    """Analyse every photo below ``folder`` that ``out`` does not hold yet.

    Parameters
    ----------
    folder : Path
        The batch folder, laid out as in the module docstring.
    out : Path
        The CSV file; created, or appended to (a second run resumes).
    json_out : Path, optional
        Also write every row of ``out`` as JSON here.
    workers : int, optional
        Worker processes; default: one per core this process may use.
    stream : text file, optional
        Where progress and the line for each unreadable photo go (default: stderr).

    Returns
    -------
    Summary

    Raises
    ------
    BatchError
        ``folder`` is not a folder, ``out`` is a folder or holds other columns,
        ``workers`` is below 1, or a worker process died.
    OSError
        ``out`` or ``json_out`` cannot be written.
    """
    stream = sys.stderr if stream is None else stream
    if not folder.is_dir():
        raise BatchError(f"{folder} is not a folder of photos.")
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise BatchError(f"workers must be at least 1, got {workers!r}.")
    cols = columns()
    done, new_file = _prepare_output(out, cols)
    failed: list[str] = []
    jobs: list[Job] = []
    skipped = 0
    for (client, area), paths in discover(folder).items():
        ordered, errors = _order(paths, folder)
        for message in errors:
            print(f"skipped: {message}", file=stream, flush=True)
        failed += errors
        if not ordered:
            continue
        ref_rel = ordered[0].relative_to(folder).as_posix()
        for p in ordered:
            rel = p.relative_to(folder).as_posix()
            if rel in done:
                skipped += 1
            else:
                jobs.append(Job(client, area, p, ordered[0], rel, ref_rel))
    out.parent.mkdir(parents=True, exist_ok=True)
    workers = workers or default_workers()
    count = 0
    with out.open("a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        if new_file:
            writer.writeheader()
            fh.flush()
        if jobs:
            print(
                f"{len(jobs)} photo(s) to analyse ({skipped} already in {out.name}) "
                f"with {min(workers, len(jobs))} process(es)",
                file=stream,
                flush=True,
            )
        bar = _Progress(len(jobs), stream)
        try:
            for row in _execute(jobs, workers):
                if row.get("error"):
                    failed.append(str(row["error"]))
                    bar.message(f"skipped: {row['error']}")
                else:
                    writer.writerow(row)
                    fh.flush()
                    count += 1
                bar.step()
        finally:
            bar.close()
    if json_out is not None:
        _write_json(out, json_out)
    return Summary(count, skipped, tuple(failed))
