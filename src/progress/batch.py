"""The batch command: analyse a whole folder of photos on every core.

Folder layout::

    FOLDER/<client>/<area>/<photo files>      e.g. archive/anna-k/left-cheek/IMG_0412.HEIC
    FOLDER/<client>/<photo files>             (area "default")

Within an area the photos are ordered by EXIF date (then file name); the first is the
reference, and every other photo is aligned to it and measured inside the reference's skin
region. Results go to a CSV (one row per photo, written as each photo finishes), and
optionally a JSON file. A second run with the same ``--out`` skips photos already in it
(resumable). An unreadable file is reported on one line and skipped; the exit status is
non-zero only for a fatal error (bad arguments, unwritable output).
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from progress.errors import ProgressError
from progress.loader import SUPPORTED_EXTENSIONS, load_image
from progress.metrics import METRICS

META_COLUMNS = [
    "client",
    "area",
    "file",
    "taken_at",
    "is_reference",
    "alignment_confidence",
    "alignment_residual_px",
    "alignment_reason",
    "quality_status",
    "quality_warnings",
    "error",
]


@dataclass(frozen=True)
class Job:
    """One photo to analyse, with its area's reference photo."""

    client: str
    area: str
    path: Path
    reference: Path
    rel: str


def discover(folder: Path) -> dict[tuple[str, str], list[Path]]:
    """Group the photos below ``folder`` by (client, area) from the folder layout."""
    exts = {"." + e for e in SUPPORTED_EXTENSIONS}
    groups: dict[tuple[str, str], list[Path]] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in exts or path.name.startswith("."):
            continue
        parts = path.relative_to(folder).parts
        if len(parts) >= 3:
            key = (parts[0], parts[1])
        elif len(parts) == 2:
            key = (parts[0], "default")
        else:
            key = (folder.name or "client", "default")
        groups.setdefault(key, []).append(path)
    return groups


def _order(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Order an area's photos by EXIF date, then name; unreadable ones are reported."""
    dated, errors = [], []
    for p in paths:
        try:
            taken = load_image(p).taken_at
        except ProgressError as exc:
            errors.append(str(exc))
            continue
        dated.append((taken.isoformat() if taken else "9999", p.name, p))
    dated.sort()
    return [p for _, _, p in dated], errors


@lru_cache(maxsize=2)
def _reference(path: str):
    from progress.pipeline import Reference

    return Reference.from_photo(load_image(path).rgb)


def analyse_job(job: Job) -> dict[str, object]:
    """Analyse one photo (runs in a worker process). Never raises for a bad photo."""
    from progress.pipeline import analyse

    row: dict[str, object] = {"client": job.client, "area": job.area, "file": job.rel}
    try:
        photo = load_image(job.path)
        row["taken_at"] = photo.taken_at.isoformat() if photo.taken_at else ""
        is_ref = job.path == job.reference
        row["is_reference"] = int(is_ref)
        result = analyse(photo.rgb, reference=None if is_ref else _reference(str(job.reference)))
    except ProgressError as exc:
        row["error"] = str(exc)
        return row
    if result.alignment is not None:
        row["alignment_confidence"] = round(result.alignment.confidence, 4)
        row["alignment_residual_px"] = round(result.alignment.residual_px, 3)
        row["alignment_reason"] = result.alignment.reason
    row["quality_status"] = result.quality.status
    row["quality_warnings"] = " | ".join(result.quality.warnings)
    row.update(result.metrics)
    return row


def _done(out: Path) -> set[str]:
    if not out.exists():
        return set()
    with out.open(newline="", encoding="utf-8") as fh:
        return {r["file"] for r in csv.DictReader(fh) if r.get("file") and not r.get("error")}


def _bar(done: int, total: int, *, width: int = 30) -> str:
    filled = int(width * done / max(total, 1))
    return f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def run(
    folder: Path,
    out: Path,
    *,
    json_out: Path | None = None,
    workers: int | None = None,
    stream=sys.stderr,
) -> int:
    """Analyse every photo below ``folder``; return the number of photos analysed now."""
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder of photos.")
    groups = discover(folder)
    done = _done(out)
    jobs: list[Job] = []
    for (client, area), paths in groups.items():
        ordered, errors = _order(paths)
        for message in errors:
            print(f"skipped: {message}", file=stream)
        if not ordered:
            continue
        for p in ordered:
            rel = p.relative_to(folder).as_posix()
            if rel not in done:
                jobs.append(Job(client, area, p, ordered[0], rel))
    columns = META_COLUMNS + list(METRICS)
    new_file = not out.exists() or out.stat().st_size == 0
    out.parent.mkdir(parents=True, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    count = 0
    with out.open("a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        if new_file:
            writer.writeheader()
        print(_bar(0, len(jobs)), end="", file=stream)
        for row in _execute(jobs, workers):
            writer.writerow(row)
            fh.flush()
            count += 1
            if row.get("error"):
                print(f"\nskipped: {row['error']}", file=stream)
            print(_bar(count, len(jobs)), end="", file=stream)
        print("", file=stream)
    if json_out is not None:
        with out.open(newline="", encoding="utf-8") as fh:
            rows = [_json_row(r) for r in csv.DictReader(fh)]
        text = json.dumps({"photos": rows}, indent=1, ensure_ascii=False, allow_nan=False)
        json_out.write_text(text, "utf-8")
    return count


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


def _execute(jobs: list[Job], workers: int) -> Iterable[dict[str, object]]:
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield analyse_job(job)
        return
    # Sorting by reference keeps each worker's small reference cache warm.
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(analyse_job, j) for j in jobs]
        for fut in as_completed(futures):
            yield fut.result()
