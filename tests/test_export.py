"""A client's whole record: export (photos, metrics CSV, PDF report) and deletion.

The expected content is set up by the test (names, dates, a stored metric value), never
read back from the code under test.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import shutil
import sqlite3
import subprocess
import zipfile
from datetime import date, datetime

import pytest
from app_support import configure, new_app, one, option, photo_jpeg, shown_text
from streamlit.runtime.media_file_manager import MediaFileManager

from progress.export import area_folder, export_client_record
from progress.metrics import METRICS
from progress.store import Store

NAME = "Zoë Export-Test"
OTHER = "Otto Other"
NOW = datetime(2026, 8, 1, 9, 30)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    configure(monkeypatch, folder)
    with option("server.address", "127.0.0.1"):
        yield folder


def _fill(folder):
    """Two clients; the first with two areas (2 + 1 photos) and an empty area."""
    with Store(None, data_dir=folder) as s:
        c = s.add_client(NAME, skin_type=3, notes="consented 2026-01")
        cheek = s.add_area(c.id, "Left cheek")
        scar = s.add_area(c.id, "Forearm / scar ../x")
        s.add_area(c.id, "Not photographed yet")
        s.add_treatment(cheek.id, date(2026, 3, 3), depth_mm=0.5)
        p1 = s.add_photo(s.add_session(cheek.id, date(2026, 3, 2)).id, photo_jpeg(1), name="a.jpg")
        p2 = s.add_photo(s.add_session(cheek.id, date(2026, 4, 27)).id, photo_jpeg(2), name="b.jpg")
        p3 = s.add_photo(s.add_session(scar.id, date(2026, 5, 1)).id, photo_jpeg(3), name="c.jpg")
        o = s.add_client(OTHER)
        oa = s.add_area(o.id, "Chin")
        po = s.add_photo(s.add_session(oa.id, date(2026, 2, 2)).id, photo_jpeg(9), name="o.jpg")
        photos = {p.id: s.photo_bytes(p.id) for p in (p1, p2, p3)}
        return c.id, {"cheek": cheek.id, "scar": scar.id}, photos, (o.id, po.id, po.sha256)


def test_area_folder_is_a_plain_relative_path():
    assert area_folder(3, "Left cheek") == "areas/3_Left_cheek/"
    assert area_folder(12, "Forearm / scar ../x") == "areas/12_Forearm_scar_x/"
    assert area_folder(4, "Zoë's Ñandú 面") == "areas/4_Zoe_s_Nandu/"
    assert area_folder(5, "../..") == "areas/5_area/"


def test_export_holds_data_photos_metrics_and_a_report_per_area(data_dir):
    client_id, areas, photos, (other_id, other_photo, _) = _fill(data_dir)
    with Store(None, data_dir=data_dir) as s:
        blob = export_client_record(s, client_id, now=NOW)
        other_blob = s.export_client(other_id)
    z = zipfile.ZipFile(io.BytesIO(blob))
    names = set(z.namelist())
    cheek = area_folder(areas["cheek"], "Left cheek")
    scar = area_folder(areas["scar"], "Forearm / scar ../x")
    expected_photos = {
        f"photos/2026-03-02_{min(photos)}.jpg",
        f"photos/2026-04-27_{sorted(photos)[1]}.jpg",
        f"photos/2026-05-01_{max(photos)}.jpg",
    }
    assert names == {"client.json", *expected_photos} | {
        cheek + "metrics.csv",
        cheek + "report.pdf",
        scar + "metrics.csv",
        scar + "report.pdf",
    }
    assert all(not n.startswith("/") and ".." not in n.split("/") for n in names)
    # Photos: the stored bytes, exactly.
    for pid, data in photos.items():
        (entry,) = [n for n in expected_photos if n.endswith(f"_{pid}.jpg")]
        assert z.read(entry) == data
    doc = json.loads(z.read("client.json"))
    assert doc["client"]["name"] == NAME
    assert sorted(a["name"] for a in doc["areas"]) == sorted(
        ["Left cheek", "Forearm / scar ../x", "Not photographed yet"]
    )
    # Metrics: one row per photo of the area, the stored value where there is one.
    rows = list(csv.DictReader(io.StringIO(z.read(cheek + "metrics.csv").decode("utf-8-sig"))))
    assert sorted(int(r["photo_id"]) for r in rows) == sorted(photos)[:2]
    assert {r["client"] for r in rows} == {NAME} and {r["area"] for r in rows} == {"Left cheek"}
    assert all(r["lab_a"] == "" for r in rows)  # not analysed: empty cells, not numbers
    assert [r["session_date"] for r in rows] == ["2026-03-02", "2026-04-27"]
    rows2 = list(csv.DictReader(io.StringIO(z.read(scar + "metrics.csv").decode("utf-8-sig"))))
    assert [int(r["photo_id"]) for r in rows2] == [max(photos)]
    # Reports: PDF documents (text checked when poppler's pdftotext is installed).
    for folder, area_name in ((cheek, "Left cheek"), (scar, "Forearm")):
        pdf = z.read(folder + "report.pdf")
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
        if shutil.which("pdftotext"):
            text = subprocess.run(
                ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
            ).stdout.decode("utf-8", "replace")
            assert area_name in text and "Export-Test" in text
    # Nothing of the other client.
    assert OTHER.encode() not in blob
    other_zip = zipfile.ZipFile(io.BytesIO(other_blob))
    for n in other_zip.namelist():
        if n.startswith("photos/"):
            assert other_zip.read(n) not in {z.read(m) for m in expected_photos}
    assert f"_{other_photo}.jpg" not in "".join(names)


def test_export_metrics_are_the_stored_results(data_dir, monkeypatch):
    """The CSV carries each photo's stored metric values (the PDF is stubbed here: drawing
    charts is slow and is tested in test_report.py)."""
    from progress import report

    client_id, areas, photos, _ = _fill(data_dir)
    second = sorted(photos)[1]
    values = {m: 1.0 for m in METRICS} | {"lab_a": 12.5, "roughness_ra": 0.75}
    made = []
    monkeypatch.setattr(report, "pdf_report", lambda data, **kw: made.append(data) or b"%PDF-stub")
    with Store(None, data_dir=data_dir) as s:
        s.save_result(second, {"metrics": values})
        blob = export_client_record(s, client_id, now=NOW)
    z = zipfile.ZipFile(io.BytesIO(blob))
    cheek = area_folder(areas["cheek"], "Left cheek")
    rows = list(csv.DictReader(io.StringIO(z.read(cheek + "metrics.csv").decode("utf-8-sig"))))
    by_id = {int(r["photo_id"]): r for r in rows}
    assert float(by_id[second]["lab_a"]) == 12.5
    assert float(by_id[second]["roughness_ra"]) == 0.75
    assert by_id[min(photos)]["lab_a"] == ""
    assert z.read(cheek + "report.pdf") == b"%PDF-stub"
    assert sorted(d.area for d in made) == sorted(["Left cheek", "Forearm / scar ../x"])
    assert {d.client for d in made} == {NAME} and {d.generated_at for d in made} == {NOW}


def _db_text(folder) -> str:
    con = sqlite3.connect(folder / "progress.db")
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


def _raw(folder) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob("progress.db*")) if p.is_file())


def test_export_button_gives_the_record_and_delete_leaves_no_trace(data_dir, monkeypatch):
    client_id, _, photos, (other_id, _, other_sha) = _fill(data_dir)
    with Store(None, data_dir=data_dir) as s:
        shas = {p.sha256 for a in s.areas(client_id) for p in s.photos(area_id=a.id)}
        other_before = s.export_client(other_id)
    assert len(shas) == 3

    # Catch the download callables the page registers (Streamlit runs them on click).
    deferred = {}
    real_add = MediaFileManager.add_deferred

    def spy(self, *args, **kwargs):
        bound = inspect.signature(real_add).bind(self, *args, **kwargs)
        deferred[bound.arguments["file_name"]] = bound.arguments["data_callable"]
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)

    at = new_app().run()
    at.selectbox(key="_client_pick").set_value(client_id).run()
    assert [h.value for h in at.header] == [NAME]
    assert "Zoë" in shown_text(at)  # the check below can see the name
    one(
        at.get("download_button"),
        "Export the whole record (ZIP: photos, metrics, reports, metadata)",
    )
    blob = deferred[f"client-{client_id}-export.zip"]()
    names = zipfile.ZipFile(io.BytesIO(blob)).namelist()
    assert sum(n.startswith("photos/") for n in names) == 3
    assert sum(n.endswith("/metrics.csv") for n in names) == 2
    assert sum(n.endswith("/report.pdf") for n in names) == 2

    # Delete through the page: a first click arms, the second confirms.
    one(at.button, f"Delete the client “{NAME}” and everything of theirs…").click().run()
    one(at.button, "Yes, delete").click().run()
    assert not at.exception
    at.run()
    shown = shown_text(at)
    assert NAME not in shown and "Zoë" not in shown and OTHER in shown
    assert at.selectbox(key="_client_pick").value == other_id
    assert [h.value for h in at.header] == [OTHER]
    for page in ("timeline", "reports"):
        at.switch_page(f"src/progress_app/pages/{page}.py").run()
        assert NAME not in shown_text(at), page

    # Nothing left in the database (rows, free pages, write-ahead log) or the photo folder.
    dump = _db_text(data_dir)
    assert NAME not in dump and "consented 2026-01" not in dump
    assert not any(sha in dump for sha in shas)
    raw = _raw(data_dir)
    assert NAME.encode() not in raw and b"consented 2026-01" not in raw
    assert b"Forearm / scar" not in raw
    left = [p for p in (data_dir / "photos").rglob("*") if p.is_file()]
    assert [p.stem for p in left if p.name != ".lock"] == [other_sha]
    assert not any(sha in str(p) for p in left for sha in shas)
    with Store(None, data_dir=data_dir) as s:
        assert [c.name for c in s.clients()] == [OTHER]
        assert s.check_integrity().ok
        after = zipfile.ZipFile(io.BytesIO(s.export_client(other_id)))
    before = zipfile.ZipFile(io.BytesIO(other_before))
    assert before.namelist() == after.namelist()
    for n in before.namelist():
        if n == "client.json":  # visiting the analysis pages added results; all else equal
            old, new = json.loads(before.read(n)), json.loads(after.read(n))
            assert {k: v for k, v in old.items() if k != "results"} == {
                k: v for k, v in new.items() if k != "results"
            }
        else:
            assert before.read(n) == after.read(n)
