"""Tests of the batch command ``python -m progress analyze`` (progress.batch, __main__).

The command is run as a user runs it, in a subprocess, on a folder laid out as
``client/area/photos`` with three sample photos and one corrupt file.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from progress.batch import _json_row, discover
from progress.metrics import METRICS

SAMPLES = Path(__file__).resolve().parents[1] / "sample_images"
PHOTOS = [
    "2026-03-02_session-01_baseline.jpg",
    "2026-03-30_session-02_pre-treatment.jpg",
    "2026-08-30_session-07_follow-up.jpg",
]
BAD = "broken.jpg"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "progress", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The folder, and the first run (2 workers) over it."""
    if not all((SAMPLES / f).is_file() for f in PHOTOS):
        pytest.skip("sample_images/ is not in this checkout")
    root = tmp_path_factory.mktemp("batch")
    area = root / "photos" / "anna-k" / "left-cheek"
    area.mkdir(parents=True)
    for f in PHOTOS:
        shutil.copyfile(SAMPLES / f, area / f)
    (area / BAD).write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    out = root / "results.csv"
    first = _run("analyze", str(root / "photos"), "--out", str(out), "--workers", "2", cwd=root)
    return root, out, first


def test_first_run_succeeds(batch):
    _, _, first = batch
    assert first.returncode == 0, first.stderr


def test_csv_has_one_row_per_good_photo(batch):
    _, out, _ = batch
    rows = _rows(out)
    assert len(rows) == 3
    assert sorted(r["file"] for r in rows) == sorted(f"anna-k/left-cheek/{f}" for f in PHOTOS)
    for r in rows:
        assert r["client"] == "anna-k" and r["area"] == "left-cheek"
        assert r["error"] == ""
        for m in METRICS:
            assert math.isfinite(float(r[m])), (r["file"], m)


def test_reference_is_the_earliest_photo(batch):
    _, out, _ = batch
    rows = {Path(r["file"]).name: r for r in _rows(out)}
    # EXIF dates order the photos: the baseline is the area's reference.
    assert rows[PHOTOS[0]]["is_reference"] == "1"
    assert rows[PHOTOS[0]]["alignment_confidence"] == ""
    for f in PHOTOS[1:]:
        assert rows[f]["is_reference"] == "0"
        assert float(rows[f]["alignment_confidence"]) >= 0.5
        assert rows[f]["taken_at"].startswith(f[:10])


def test_bad_file_is_named_on_stderr(batch):
    _, out, first = batch
    assert BAD in first.stderr
    assert BAD not in out.read_text("utf-8")
    assert "Traceback" not in first.stderr


def test_second_run_adds_nothing_and_writes_json(batch):
    root, out, _ = batch
    before = out.read_text("utf-8")
    json_out = root / "results.json"
    second = _run(
        "analyze", str(root / "photos"), "--out", str(out), "--json", str(json_out), cwd=root
    )
    assert second.returncode == 0, second.stderr
    assert out.read_text("utf-8") == before  # resumable: nothing analysed twice
    assert "0 photo(s) analysed" in second.stderr
    data = json.loads(json_out.read_text("utf-8"), parse_constant=_no_constants)
    photos = data["photos"]
    assert len(photos) == 3
    by_file = {r["file"]: r for r in _rows(out)}
    assert {p["file"] for p in photos} == set(by_file)
    for p in photos:
        for m in METRICS:  # numbers, equal to the CSV's
            assert isinstance(p[m], float)
            assert p[m] == float(by_file[p["file"]][m])
        assert p["is_reference"] in (0, 1)


def test_missing_folder_is_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-folder"
    res = _run("analyze", str(missing), "--out", str(tmp_path / "r.csv"), cwd=tmp_path)
    assert res.returncode != 0
    assert str(missing) in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "r.csv").exists()


def test_missing_out_option_is_a_usage_error(tmp_path):
    res = _run("analyze", str(tmp_path), cwd=tmp_path)
    assert res.returncode == 2
    assert "--out" in res.stderr


def test_discover_groups_by_client_and_area(tmp_path):
    for rel in ["c1/a1/x.jpg", "c1/a1/y.png", "c1/a2/z.jpg", "c2/w.jpg", "c1/a1/notes.txt"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    groups = discover(tmp_path)
    assert {k: sorted(p.name for p in v) for k, v in groups.items()} == {
        ("c1", "a1"): ["x.jpg", "y.png"],
        ("c1", "a2"): ["z.jpg"],
        ("c2", "default"): ["w.jpg"],
    }


def test_json_rows_carry_numbers_and_null():
    row = {"file": "a/b/c.jpg", "is_reference": "0", "alignment_confidence": "", "lab_a": "nan"}
    row |= {"sigma_l": "4.25", "quality_warnings": "1.5"}
    assert _json_row(row) == {
        "file": "a/b/c.jpg",
        "is_reference": 0,
        "alignment_confidence": None,
        "lab_a": None,  # a failed metric: null, never the invalid NaN
        "sigma_l": 4.25,
        "quality_warnings": "1.5",  # text columns stay text
    }
