"""Tests of the batch command ``python -m progress analyze`` (progress.batch, __main__).

The command is run as a user runs it, in a subprocess with two worker processes, on a
folder laid out as ``client/area/photos``:

* ``anna-k/left-cheek``: three sample photos renamed so that the file names sort in the
  *opposite* order of their EXIF dates (``c.jpg`` is the baseline of 2026-03-02, ``a.jpg``
  the follow-up of 2026-08-30), a strongly blurred copy without EXIF, a file that is not a
  JPEG, a truncated JPEG (its header and date are intact), a hidden file and a text file;
* ``anna-k/forehead``: a truncated copy of the baseline (the area's reference by date)
  and one good photo.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from progress.batch import _clock, _json_row, columns, discover, run
from progress.metrics import METRICS

SAMPLES = Path(__file__).resolve().parents[1] / "sample_images"
BASELINE = "2026-03-02_session-01_baseline.jpg"
SESSION2 = "2026-03-30_session-02_pre-treatment.jpg"
FOLLOW_UP = "2026-08-30_session-07_follow-up.jpg"
CHEEK = "anna-k/left-cheek"
FOREHEAD = "anna-k/forehead"
GOOD = {f"{CHEEK}/c.jpg": BASELINE, f"{CHEEK}/b.jpg": SESSION2, f"{CHEEK}/a.jpg": FOLLOW_UP}
BLURRED = f"{CHEEK}/blurred.jpg"
BROKEN = f"{CHEEK}/broken.jpg"
TRUNCATED = f"{CHEEK}/truncated.jpg"
REF_TRUNCATED = f"{FOREHEAD}/ref-truncated.jpg"
ORPHAN = f"{FOREHEAD}/later.jpg"  # good, but its area's reference cannot be read
WRITTEN = [*GOOD, BLURRED]
FAILING = [BROKEN, TRUNCATED, REF_TRUNCATED, ORPHAN]


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


def _skip_lines(stderr: str, rel: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"skipped: {rel}:")]


def _make_folder(photos: Path) -> None:
    for rel, src in GOOD.items():
        (photos / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLES / src, photos / rel)
    (photos / FOREHEAD).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SAMPLES / SESSION2, photos / ORPHAN)
    rgb = np.asarray(Image.open(SAMPLES / FOLLOW_UP).convert("RGB"))
    # σ = 6 px: far below the baseline's sharpness (no EXIF: ordered last).
    Image.fromarray(cv2.GaussianBlur(rgb, (0, 0), 6)).save(photos / BLURRED, quality=92)
    (photos / BROKEN).write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    data = (SAMPLES / FOLLOW_UP).read_bytes()
    (photos / TRUNCATED).write_bytes(data[: len(data) * 6 // 10])
    data = (SAMPLES / BASELINE).read_bytes()
    (photos / REF_TRUNCATED).write_bytes(data[: len(data) * 6 // 10])
    (photos / CHEEK / ".hidden.jpg").write_bytes(b"not a photo, and hidden")
    (photos / CHEEK / "notes.txt").write_text("not a photo")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """The folder, and the first run (2 workers) over it."""
    if not all((SAMPLES / f).is_file() for f in (BASELINE, SESSION2, FOLLOW_UP)):
        pytest.skip("sample_images/ is not in this checkout")
    root = tmp_path_factory.mktemp("batch")
    _make_folder(root / "photos")
    out = root / "results.csv"
    first = _run("analyze", str(root / "photos"), "--out", str(out), "--workers", "2", cwd=root)
    return root, out, first


def test_first_run_succeeds_with_two_processes(batch):
    _, _, first = batch
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert "with 2 process(es)" in first.stderr
    jobs = len(WRITTEN) + len(FAILING) - 1  # the broken file fails on its header
    assert f"] {jobs}/{jobs}" in first.stderr  # the progress line reached the end
    assert f"{len(WRITTEN)} photo(s) analysed" in first.stderr


def test_csv_has_every_column_and_one_row_per_good_photo(batch):
    _, out, _ = batch
    with out.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == columns()
    assert set(METRICS) <= set(header)
    for col in ("quality_status", "quality_warnings", "alignment_confidence"):
        assert col in header
    rows = _rows(out)
    assert sorted(r["file"] for r in rows) == sorted(WRITTEN)
    for r in rows:
        assert (r["client"], r["area"]) == ("anna-k", "left-cheek")
        for m in METRICS:
            assert math.isfinite(float(r[m])), (r["file"], m)


def test_reference_is_the_earliest_photo_by_exif_date_not_by_name(batch):
    _, out, _ = batch
    rows = {r["file"]: r for r in _rows(out)}
    ref = f"{CHEEK}/c.jpg"
    assert rows[ref]["is_reference"] == "1"
    assert rows[ref]["alignment_confidence"] == ""
    for rel in WRITTEN:
        assert rows[rel]["reference_file"] == ref
    for rel, src in GOOD.items():
        assert rows[rel]["taken_at"].startswith(src[:10])
        if rel != ref:
            assert rows[rel]["is_reference"] == "0"
            assert float(rows[rel]["alignment_confidence"]) >= 0.5
    assert rows[BLURRED]["taken_at"] == ""  # no EXIF: ordered after the dated photos


def test_quality_warnings_are_written(batch):
    _, out, _ = batch
    rows = {r["file"]: r for r in _rows(out)}
    assert rows[BLURRED]["quality_status"] in ("warn", "fail")
    assert "blurr" in rows[BLURRED]["quality_warnings"].lower()
    assert rows[f"{CHEEK}/c.jpg"]["quality_status"] in ("pass", "warn", "fail")


def test_each_unreadable_file_gets_one_clear_line_and_no_row(batch):
    _, out, first = batch
    text = out.read_text("utf-8")
    for rel in FAILING:
        lines = _skip_lines(first.stderr, rel)
        assert len(lines) == 1, (rel, first.stderr)
        assert rel not in text
    assert "truncated or corrupt" in _skip_lines(first.stderr, TRUNCATED)[0]
    # The good photo of an area whose reference is broken says why it was not measured.
    assert REF_TRUNCATED in _skip_lines(first.stderr, ORPHAN)[0]
    assert ".hidden.jpg" not in first.stderr and "notes.txt" not in first.stderr


def test_second_run_adds_nothing_and_writes_json(batch):
    root, out, _ = batch
    before = out.read_text("utf-8")
    json_out = root / "results.json"
    second = _run(
        "analyze", str(root / "photos"), "--out", str(out), "--json", str(json_out), cwd=root
    )
    assert second.returncode == 0, second.stderr
    assert out.read_text("utf-8") == before  # resumable: nothing analysed twice
    assert f"0 photo(s) analysed, {len(WRITTEN)} already done" in second.stderr
    for rel in FAILING:  # the unreadable files are tried (and reported) again
        assert len(_skip_lines(second.stderr, rel)) == 1
    data = json.loads(json_out.read_text("utf-8"), parse_constant=_no_constants)
    photos = data["photos"]
    by_file = {r["file"]: r for r in _rows(out)}
    assert len(photos) == len(WRITTEN) and {p["file"] for p in photos} == set(by_file)
    for p in photos:
        for m in METRICS:  # numbers, equal to the CSV's
            assert isinstance(p[m], float)
            assert p[m] == float(by_file[p["file"]][m])
        assert p["is_reference"] in (0, 1)


def test_an_interrupted_output_is_completed_without_duplicates(batch, tmp_path):
    root, out, _ = batch
    full = _rows(out)
    keep = [r for r in full if r["file"] not in (f"{CHEEK}/b.jpg", f"{CHEEK}/a.jpg")]
    cut = tmp_path / "cut.csv"
    with cut.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns())
        writer.writeheader()
        writer.writerows(keep)
    with cut.open("a", encoding="utf-8") as fh:  # a row cut short by a crash
        fh.write(f"anna-k,left-cheek,{CHEEK}/a.jpg,2026-08-30T")
    log = tmp_path / "log.txt"
    with log.open("w", encoding="utf-8") as stream:
        summary = run(root / "photos", cut, workers=1, stream=stream)
    assert summary.analysed == 2 and summary.already_done == len(WRITTEN) - 2
    assert len(summary.failed) == len(FAILING)
    rows = _rows(cut)
    assert sorted(r["file"] for r in rows) == sorted(WRITTEN)
    before = {r["file"]: r for r in full}
    for r in rows:  # the resumed rows are those of the uninterrupted run
        for m in METRICS:
            assert float(r[m]) == pytest.approx(float(before[r["file"]][m]), rel=1e-6, abs=1e-9)


def test_an_output_with_other_columns_is_a_fatal_error(batch, tmp_path):
    root, _, _ = batch
    other = tmp_path / "other.csv"
    other.write_text("name,value\nx,1\n", "utf-8")
    res = _run("analyze", str(root / "photos"), "--out", str(other), cwd=tmp_path)
    assert res.returncode == 2
    assert "other columns" in res.stderr and "Traceback" not in res.stderr
    assert other.read_text("utf-8") == "name,value\nx,1\n"


def test_missing_folder_is_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-folder"
    res = _run("analyze", str(missing), "--out", str(tmp_path / "r.csv"), cwd=tmp_path)
    assert res.returncode == 2
    assert str(missing) in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "r.csv").exists()


def test_missing_out_option_is_a_usage_error(tmp_path):
    res = _run("analyze", str(tmp_path), cwd=tmp_path)
    assert res.returncode == 2
    assert "--out" in res.stderr


def test_workers_below_one_is_a_usage_error(tmp_path, capsys):
    from progress.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(["analyze", str(tmp_path), "--out", str(tmp_path / "r.csv"), "--workers", "0"])
    assert exc.value.code == 2
    assert "at least 1" in capsys.readouterr().err
    assert not (tmp_path / "r.csv").exists()


def test_help_documents_the_folder_layout(capsys):
    from progress.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(["analyze", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "FOLDER/<client>/<area>/<photos>" in text
    assert "resumable" in text and "--workers" in text


def test_an_empty_folder_writes_only_the_header(tmp_path):
    out = tmp_path / "r.csv"
    (tmp_path / "photos").mkdir()
    with (tmp_path / "log.txt").open("w", encoding="utf-8") as stream:
        summary = run(tmp_path / "photos", out, stream=stream)
    assert (summary.analysed, summary.already_done, summary.failed) == (0, 0, ())
    assert out.read_text("utf-8").strip() == ",".join(columns())


def test_discover_groups_by_client_and_area(tmp_path):
    for rel in [
        "c1/a1/x.jpg",
        "c1/a1/y.png",
        "c1/a1/2026/deeper.jpg",
        "c1/a2/z.jpg",
        "c2/w.jpg",
        "c1/a1/notes.txt",
        "c1/a1/.hidden.jpg",
        "c1/.trash/a3/t.jpg",
    ]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    groups = discover(tmp_path)
    assert {k: sorted(p.name for p in v) for k, v in groups.items()} == {
        ("c1", "a1"): ["deeper.jpg", "x.jpg", "y.png"],
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


def test_clock_formats_hours_minutes_seconds():
    assert _clock(3725.4) == "1:02:05"
    assert _clock(59.6) == "0:01:00"
    assert _clock(float("nan")) == "?"


def test_an_unexpected_failure_on_one_photo_is_reported_and_the_batch_goes_on(
    tmp_path, monkeypatch
):
    import progress.pipeline
    from progress.quality import QualityReport

    area = tmp_path / "photos" / "c" / "a"
    area.mkdir(parents=True)
    for i, name in enumerate(["a.png", "b.png", "c.png"]):
        Image.fromarray(np.full((40, 60, 3), 60 * i + 40, np.uint8)).save(area / name)

    class Fake:  # what the batch reads from an Analysis
        alignment = None
        quality = QualityReport(())
        metrics = dict.fromkeys(METRICS, 1.5)

    def fake_analyse(rgb, *, reference=None):
        if rgb[0, 0, 0] == 100:  # b.png
            raise RuntimeError("boom")
        return Fake()

    monkeypatch.setattr(progress.pipeline, "analyse", fake_analyse)
    monkeypatch.setattr(progress.pipeline.Reference, "from_photo", classmethod(lambda c, rgb: rgb))
    out = tmp_path / "r.csv"
    log = tmp_path / "log.txt"
    with log.open("w", encoding="utf-8") as stream:
        summary = run(tmp_path / "photos", out, workers=1, stream=stream)
    assert summary.analysed == 2
    assert summary.failed == ("c/a/b.png: failed (RuntimeError: boom)",)
    assert "skipped: c/a/b.png: failed (RuntimeError: boom)" in log.read_text("utf-8")
    rows = _rows(out)
    assert [r["file"] for r in rows] == ["c/a/a.png", "c/a/c.png"]
    assert all(r[m] == "1.5" for r in rows for m in METRICS)
    assert [r["quality_status"] for r in rows] == ["pass", "pass"]
