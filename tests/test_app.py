"""Dashboard tests with Streamlit's ``AppTest`` (no browser).

Every page is run on an empty store, on the analysed sample series (shared, see
``analysed_samples_dir`` in conftest.py) and through the whole clinician flow: create a
client and an area, upload photos (one of them broken), read the metric table and the
timeline chart, download the reports, delete a photo. Expected values come from the
sample series' ``truth.json`` (dates, days, names) or from the files themselves, never
from the dashboard's own code.

Download buttons get deferred callables (``data=lambda: ...``) whose bytes AppTest does
not expose; the ``downloads`` fixture records the exact callables the page registers and
the tests call them.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.runtime.media_file_manager import MediaFileManager  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from progress.metrics import METRICS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
SAMPLES = REPO / "sample_images"
TRUTH = json.loads((SAMPLES / "truth.json").read_text("utf-8")) if SAMPLES.exists() else {}
PAGES = {
    "clients": "Clients & photos",
    "lineup": "Line up",
    "measure": "Measure",
    "timeline": "Timeline",
    "compare": "Compare",
    "reports": "Reports",
}
PDFTOTEXT = shutil.which("pdftotext")
TIMEOUT = 180  # seconds for one script run; a first visit analyses photos on 2 slow cores


# ----------------------------------------------------------------------------- helpers


def page_path(name: str) -> str:
    return f"src/progress_app/pages/{name}.py"


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def assert_clean(at: AppTest, title: str) -> None:
    """The run raised nothing, shows no error and is on the page with this title."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert [t.value for t in at.title] == [title]


def button(at: AppTest, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}; have {[b.label for b in at.button]}"
    return matches[0]


def selectbox(at: AppTest, label: str):
    matches = [s for s in at.selectbox if s.label == label]
    assert matches, f"no selectbox {label!r}; have {[s.label for s in at.selectbox]}"
    return matches[0]


def decode_plotly_array(value) -> np.ndarray:
    """Plotly ≥ 6 writes numeric arrays as ``{"dtype": "f8", "bdata": base64}``."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.array([np.nan if v is None else v for v in value], dtype=float)


def plotly_spec(at: AppTest) -> dict:
    charts = at.get("plotly_chart")
    assert len(charts) == 1, f"expected one chart, found {len(charts)}"
    return json.loads(charts[0].proto.spec)


def marker_traces(spec: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        t["name"]: (decode_plotly_array(t["x"]), decode_plotly_array(t["y"]))
        for t in spec["data"]
        if t.get("mode") == "markers"
    }


def pdf_page_count(pdf: bytes) -> int:
    """Page objects (``/Type /Page``, not the ``/Pages`` tree node)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def pdf_pages_text(pdf: bytes, tmp_path: Path) -> list[str]:
    """The text of each page, by poppler's pdftotext (pages end with a form feed)."""
    if PDFTOTEXT is None:
        pytest.skip("pdftotext (Debian package poppler-utils) is not installed")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        [PDFTOTEXT, "-enc", "UTF-8", "-layout", str(path), "-"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    pages = out.stdout.decode("utf-8").split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def as_bytes(value) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def check_pdf(pdf: bytes, tmp_path: Path, *, client: str, area: str, charts: int) -> None:
    """A PDF whose pages follow the report's documented layout.

    Page 1: the cover (client, area, "not a diagnosis"); page 2: the metric table; then
    ``charts`` charts two per page (each with a caption naming its repeatability limit);
    the method notes last; every page's footer says "Page n of N".
    """
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip(b"\r\n").endswith(b"%%EOF")
    n = pdf_page_count(pdf)
    pages = pdf_pages_text(pdf, tmp_path)
    assert len(pages) == n
    for i, text in enumerate(pages, start=1):
        assert f"Page {i} of {n}" in text
        assert "not a diagnosis" in text  # the footer of every page
    assert client in pages[0] and area in pages[0]
    assert "This report is not a diagnosis" in " ".join(pages[0].split())
    assert "Measurements: baseline and latest" in pages[1]
    chart_pages = [i for i, t in enumerate(pages) if "(repeatability limit" in t]
    assert sum(t.count("(repeatability limit") for t in pages) == charts
    assert len(chart_pages) == math.ceil(charts / 2)
    assert chart_pages == list(range(chart_pages[0], chart_pages[0] + len(chart_pages)))
    assert "How the measurements were made" in pages[-1]
    assert n >= 2 + math.ceil(charts / 2)


@pytest.fixture
def downloads(monkeypatch) -> dict[str, tuple]:
    """file name → (the page's deferred data callable, mime type), filled as pages run."""
    seen: dict[str, tuple] = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        seen[file_name] = (data_callable, mimetype)
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return seen


def download(downloads: dict, pattern: str, mime: str) -> bytes:
    names = [n for n in downloads if re.fullmatch(pattern, n or "")]
    assert len(names) == 1, f"no single download matching {pattern!r} in {list(downloads)}"
    fn, got_mime = downloads[names[0]]
    assert got_mime == mime
    return as_bytes(fn())


@pytest.fixture
def empty_env(tmp_path, monkeypatch) -> Path:
    """An empty data folder and no sample seeding."""
    monkeypatch.setenv("PROGRESS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PROGRESS_NO_SAMPLES", "1")
    monkeypatch.delenv("PROGRESS_DB_URL", raising=False)
    monkeypatch.delenv("PROGRESS_SAMPLE_DIR", raising=False)
    return tmp_path / "data"


@pytest.fixture
def samples_env(analysed_samples_dir, monkeypatch) -> Path:
    """The shared, already analysed sample series (read-only)."""
    monkeypatch.setenv("PROGRESS_DATA_DIR", str(analysed_samples_dir))
    monkeypatch.delenv("PROGRESS_NO_SAMPLES", raising=False)
    monkeypatch.delenv("PROGRESS_DB_URL", raising=False)
    monkeypatch.delenv("PROGRESS_SAMPLE_DIR", raising=False)
    return analysed_samples_dir


@pytest.fixture
def samples_app(samples_env) -> AppTest:
    at = new_app()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def truth_days() -> dict[str, float]:
    """Days since the first treatment of each sample photo, from truth.json."""
    return {p["file"]: float(p["day"]) for p in TRUTH["photos"]}


def truth_inflamed() -> set[str]:
    return {p["file"] for p in TRUTH["photos"] if p["within_7_days_of_treatment"]}


# ------------------------------------------------------------------------ empty start


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_on_an_empty_store(empty_env, page):
    at = new_app()
    at.run()
    at.switch_page(page_path(page)).run()
    assert_clean(at, PAGES[page])
    hints = " ".join(i.value for i in at.info)
    if page == "clients":
        assert "Create a client to start." in hints
        assert [t.label for t in at.text_input] == ["Name or pseudonym"]
    else:
        assert "Choose a client and a treatment area in the sidebar" in hints
    assert "No client yet" in " ".join(c.value for c in at.sidebar.caption)


def test_first_start_seeds_the_sample_series(tmp_path, monkeypatch):
    monkeypatch.setenv("PROGRESS_DATA_DIR", str(tmp_path / "fresh"))
    for var in ("PROGRESS_NO_SAMPLES", "PROGRESS_DB_URL", "PROGRESS_SAMPLE_DIR"):
        monkeypatch.delenv(var, raising=False)
    at = new_app()
    at.run()
    assert_clean(at, "Clients & photos")
    assert [h.value for h in at.header] == [TRUTH["client"]]
    assert selectbox(at, "Client").format_func(selectbox(at, "Client").value) == TRUTH["client"]
    area = selectbox(at, "Treatment area")
    assert area.format_func(area.value) == TRUTH["area"]
    photos = at.dataframe[-1].value
    assert sorted(photos["photo"]) == sorted(p["file"] for p in TRUTH["photos"])
    assert sorted(photos["session"]) == sorted(p["date"][:10] for p in TRUTH["photos"])
    treatments = at.dataframe[0].value
    assert list(treatments["date"]) == [d[:10] for d in TRUTH["treatment_dates"]]
    # A second start of the app on the same folder does not seed a second copy.
    again = new_app()
    again.run()
    assert [c.value for c in again.sidebar.selectbox][:1] == [selectbox(at, "Client").value]
    assert len(again.dataframe[-1].value) == len(TRUTH["photos"])


# --------------------------------------------------------------- the analysed samples


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_on_the_analysed_samples(samples_app, page):
    at = samples_app.switch_page(page_path(page)).run()
    assert_clean(at, PAGES[page])
    # Results are current: no page starts an analysis (no progress bar).
    assert not at.get("progress")
    # A rerun of the same page (a revisit) is just as clean.
    at.run()
    assert_clean(at, PAGES[page])


def test_measure_table_has_every_metric_baseline_to_latest(samples_app, samples_env):
    at = samples_app.switch_page(page_path("measure")).run()
    assert_clean(at, "Measure")
    table = at.dataframe[0].value
    assert list(table["metric"]) == [m.label for m in METRICS.values()]
    assert set(table["verdict"]) <= {"improved", "worse", "no measurable change", "not measured"}
    # Baseline: the first photo; latest: the last one not within 7 days after a session.
    usable = [p for p in TRUTH["photos"] if not p["within_7_days_of_treatment"]]
    first, last = usable[0]["date"][:10], usable[-1]["date"][:10]
    text = " ".join(m.value for m in at.markdown)
    assert f"Baseline: **{first}**" in text
    assert f"latest comparable photo: **{last}**" in text
    # Values in the table are the stored results of exactly those two photos.
    from progress.store import Store

    with Store(None, data_dir=samples_env) as store:
        area = store.areas(store.clients()[0].id)[0]
        by_name = {p.display_name: p.id for p in store.photos(area_id=area.id)}
        results = store.results(area.id)
    base = results[by_name[usable[0]["file"]]]["metrics"]
    latest = results[by_name[usable[-1]["file"]]]["metrics"]
    for name, m in METRICS.items():
        row = table[table["metric"] == m.label].iloc[0]
        for col, values in (("baseline", base), ("latest", latest)):
            v = values[name]
            if np.isfinite(v):
                assert float(row[col]) == pytest.approx(v, rel=1e-3, abs=1e-9), (name, col)
            else:
                assert row[col] == "—"
    # The table of every photo lists all eight, the post-treatment one flagged.
    every = at.dataframe[1].value
    assert len(every) == len(TRUTH["photos"])
    flagged = set(every.loc[every["≤7 d after session"], "photo"])
    assert flagged == truth_inflamed()


def test_timeline_chart_plots_every_photo_on_its_day(samples_app):
    at = samples_app.switch_page(page_path("timeline")).run()
    assert_clean(at, "Timeline")
    assert selectbox(at, "Metric").value == "lab_a"
    spec = plotly_spec(at)
    traces = marker_traces(spec)
    days = truth_days()
    inflamed = truth_inflamed()
    x, y = traces["photo"]
    assert sorted(x) == sorted(d for f, d in days.items() if f not in inflamed)
    assert np.isfinite(y).all()
    xi, yi = traces["≤ 7 days after a session (inflammation)"]
    assert sorted(xi) == sorted(days[f] for f in inflamed)
    # Treatments are drawn as dashed vertical lines on their days.
    lines = [s for s in spec["layout"]["shapes"] if s.get("type") == "line"]
    assert sorted(s["x0"] for s in lines) == [float(d) for d in TRUTH["treatment_days"]]
    assert "a*" in spec["layout"]["title"]["text"]
    # Another metric: the chart follows the choice.
    selectbox(at, "Metric").set_value("roughness_ra").run()
    assert_clean(at, "Timeline")
    assert METRICS["roughness_ra"].label in plotly_spec(at)["layout"]["title"]["text"]


def test_compare_shows_the_two_photos_side_by_side(samples_app):
    at = samples_app.switch_page(page_path("compare")).run()
    assert_clean(at, "Compare")
    before, after = selectbox(at, "Before"), selectbox(at, "After")
    first = TRUTH["photos"][0]
    final = TRUTH["photos"][-1]
    assert first["date"][:10] in before.format_func(before.value)
    assert final["date"][:10] in after.format_func(after.value)
    frames = at.get("iframe")
    assert len(frames) == 1
    html = frames[0].proto.srcdoc
    assert html.count("data:image/jpeg;base64,") >= 2
    assert "side by side" in html
    assert f"after · {final['date'][:10]}" in html
    texts = [i.caption for el in at.get("image") for i in el.proto.imgs]
    assert any(t.startswith("Before:") for t in texts)
    assert any(t.startswith("After (aligned):") for t in texts)
    # The samples are seeded with their grey card: views and change map are balanced on it.
    assert any("white-balanced on the area's grey card" in c.value for c in at.caption)


def test_reports_pdf_csv_json_zip(samples_app, downloads, tmp_path):
    at = samples_app.switch_page(page_path("reports")).run()
    assert_clean(at, "Reports")
    assert [b.label for b in at.download_button] == [
        "PDF report",
        "Metrics (CSV)",
        "Metrics (JSON)",
        "Aligned photos (ZIP)",
    ]
    files = sorted(p["file"] for p in TRUTH["photos"])

    pdf = download(downloads, r"skin-progress-\d+\.pdf", "application/pdf")
    check_pdf(pdf, tmp_path, client=TRUTH["client"], area=TRUTH["area"], charts=6)

    rows = csv_rows(download(downloads, r"skin-progress-\d+\.csv", "text/csv"))
    assert len(rows) == len(TRUTH["photos"])
    assert sorted(r["file"] for r in rows) == files
    assert {r["client"] for r in rows} == {TRUTH["client"]}
    assert {r["session_date"] for r in rows} == {p["date"][:10] for p in TRUTH["photos"]}
    for name in METRICS:
        assert all(r[name] == "" or math.isfinite(float(r[name])) for r in rows), name
    assert all(r["lab_a"] != "" for r in rows)

    doc = json.loads(download(downloads, r"skin-progress-\d+\.json", "application/json"))
    assert json.dumps(doc).count(TRUTH["photos"][0]["file"]) >= 1

    # The aligned-photo ZIP is registered but not built here: it PNG-encodes every
    # full-size photo (≈ 12 s for the eight); progress.report's own tests cover it.
    assert any(re.fullmatch(r"skin-progress-\d+-aligned\.zip", n or "") for n in downloads)


# ------------------------------------------------------- the clinician's flow, from zero


def test_create_client_upload_measure_report_delete(empty_env, downloads, tmp_path):
    at = new_app()
    at.run()
    assert_clean(at, "Clients & photos")

    # A client with a non-ASCII name, then an area.
    at.text_input[0].input("Zoë Test")
    button(at, "Create client").click().run()
    assert_clean(at, "Clients & photos")
    assert [h.value for h in at.header] == ["Zoë Test"]
    [area_input] = [t for t in at.text_input if t.label.startswith("New area")]
    area_input.input("Left cheek")
    button(at, "Add area").click().run()
    assert_clean(at, "Clients & photos")
    assert "#### Area: Left cheek" in [m.value for m in at.markdown]
    assert "No photos in this area yet" in " ".join(i.value for i in at.info)

    # Analysis pages without photos say so.
    for page in ("lineup", "measure", "timeline", "compare", "reports"):
        at.switch_page(page_path(page)).run()
        assert_clean(at, PAGES[page])
        assert "Upload photos first." in [i.value for i in at.info]

    # Two good photos and a broken file in one upload: the broken one is named in an
    # error, the good ones go in, each in the session of its EXIF date.
    at.switch_page(page_path("clients")).run()
    good = [TRUTH["photos"][0]["file"], TRUTH["photos"][-1]["file"]]
    uploader = at.file_uploader[0]
    for name in good:
        uploader.upload(name, (SAMPLES / name).read_bytes(), "image/jpeg")
    uploader.upload("broken.jpg", b"this is not a photo at all", "image/jpeg")
    button(at, "Upload").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "broken.jpg" in errors[0]
    assert [s.value for s in at.success] == [
        "2 photo(s) added. 1 file(s) were refused (see above)."
    ]
    photos = at.dataframe[-1].value
    assert sorted(photos["photo"]) == sorted(good)
    assert sorted(photos["session"]) == sorted(
        p["date"][:10] for p in (TRUTH["photos"][0], TRUTH["photos"][-1])
    )

    # The metric table (the first visit analyses both photos).
    at.switch_page(page_path("measure")).run()
    assert_clean(at, "Measure")
    table = at.dataframe[0].value
    assert list(table["metric"]) == [m.label for m in METRICS.values()]
    assert (table["baseline"] != "—").any() and (table["latest"] != "—").any()

    # The chart: no treatment recorded, so day 0 is the first photo's date.
    at.switch_page(page_path("timeline")).run()
    assert_clean(at, "Timeline")
    x, y = marker_traces(plotly_spec(at))["photo"]
    span = (date.fromisoformat(good_dates(good)[1]) - date.fromisoformat(good_dates(good)[0])).days
    assert sorted(x) == [0.0, float(span)]
    assert np.isfinite(y).all()

    at.switch_page(page_path("compare")).run()
    assert_clean(at, "Compare")
    assert len(at.get("iframe")) == 1

    # The reports: a PDF naming the client, a CSV with one row per photo.
    at.switch_page(page_path("reports")).run()
    assert_clean(at, "Reports")
    # (The PDF of this client is downloaded for real in tests/test_browser.py.)
    assert any(re.fullmatch(r"skin-progress-\d+\.pdf", n or "") for n in downloads)
    rows = csv_rows(download(downloads, r"skin-progress-\d+\.csv", "text/csv"))
    assert sorted(r["file"] for r in rows) == sorted(good)
    assert {r["client"] for r in rows} == {"Zoë Test"}

    # Revisiting the Clients page does not upload the files a second time.
    at.switch_page(page_path("clients")).run()
    assert_clean(at, "Clients & photos")
    assert len(at.dataframe[-1].value) == 2

    # Delete the follow-up photo (two steps); every page then shows one photo.
    last_id = int(photos.loc[photos["photo"] == good[1], "id"].iloc[0])
    selectbox(at, "Photo to delete").set_value(last_id).run()
    button(at, "Delete this photo…").click().run()
    assert "Delete this photo?" in " ".join(w.value for w in at.warning)
    button(at, "Yes, delete").click().run()
    assert_clean(at, "Clients & photos")
    assert list(at.dataframe[-1].value["photo"]) == [good[0]]
    at.switch_page(page_path("timeline")).run()
    assert_clean(at, "Timeline")
    x, _ = marker_traces(plotly_spec(at))["photo"]
    assert list(x) == [0.0]
    at.switch_page(page_path("compare")).run()
    assert_clean(at, "Compare")
    assert "Two measured photos are needed to compare." in [i.value for i in at.info]
    downloads.clear()
    at.switch_page(page_path("reports")).run()
    rows = csv_rows(download(downloads, r"skin-progress-\d+\.csv", "text/csv"))
    assert [r["file"] for r in rows] == [good[0]]


def good_dates(files: list[str]) -> list[str]:
    by_file = {p["file"]: p["date"][:10] for p in TRUTH["photos"]}
    return [by_file[f] for f in files]


# ---------------------------------------------- grey card, scale and the client's limits
#
# The image component (drag a box, click two points) cannot be driven by AppTest: the
# card is set with the library's setter, the ruler's two points through the session
# state the page keeps them in; the number inputs and buttons are driven as a user would.

# The sample's grey patch (truth.json landmarks), inset by 12 px as the seeding does.
SAMPLE_CARD = (
    tuple(
        int(v) + d
        for v, d in zip(TRUTH["landmarks"]["grey_patch"], (12, 12, -12, -12), strict=True)
    )
    if TRUTH
    else ()
)
FACTOR = 1.96 * math.sqrt(2)  # Bland & Altman repeatability coefficient


def number_input(at: AppTest, label: str):
    matches = [n for n in at.number_input if n.label == label]
    assert matches, f"no number input {label!r}; have {[n.label for n in at.number_input]}"
    return matches[0]


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def stored(data_dir: Path):
    from progress.store import Store

    return Store(None, data_dir=data_dir)


@pytest.fixture
def two_sample_photos(empty_env) -> tuple[Path, int]:
    """A store with the sample baseline and follow-up in one area, card and scale set."""
    if not TRUTH:
        pytest.skip("sample_images/ is missing: run `python -m progress.samples`")
    s = stored(empty_env)
    area = s.add_area(s.add_client("Card test").id, "Left cheek")
    s.set_area_settings(
        area.id, {"card_box": list(SAMPLE_CARD), "scale_px_per_mm": TRUTH["px_per_mm"]}
    )
    for entry in (TRUTH["photos"][0], TRUTH["photos"][-1]):
        session = s.session_for_date(area.id, date.fromisoformat(entry["date"][:10]))
        s.add_photo(session.id, (SAMPLES / entry["file"]).read_bytes(), name=entry["file"])
    s.close()
    return empty_env, area.id


def _results(data_dir: Path, area_id: int) -> list[dict]:
    s = stored(data_dir)
    try:
        return list(s.results(area_id).values())
    finally:
        s.close()


def test_measure_grey_card_set_cleared_and_set_again(two_sample_photos):
    data_dir, area_id = two_sample_photos
    at = new_app()
    at.run()
    at.switch_page(page_path("measure")).run()
    assert_clean(at, "Measure")
    text = captions(at)
    x0, y0, x1, y1 = SAMPLE_CARD
    assert f"Grey card: x {x0}–{x1}, y {y0}–{y1}" in text
    # The patch is rendered at L* 50, a* = b* = 0 (truth.json), and read so on the reference.
    assert f"L* {TRUTH['landmarks']['grey_patch_lab'][0]:.0f}," in text
    assert not [w for w in at.warning if "No grey card" in w.value]
    assert "(with grey card)" in text
    first = _results(data_dir, area_id)
    assert len(first) == 2
    assert {r["colour"]["method"] for r in first} == {"grey-card"}
    assert all(f"card:{x0},{y0},{x1},{y1}" in r["roi_key"] for r in first)

    # Clear the card: a warning says tone is compared uncorrected, every photo is
    # measured again without colour correction, and the default limits without a card
    # are used.
    button(at, "Clear grey card").click().run()
    assert_clean(at, "Measure")
    assert [w.value for w in at.warning if "No grey card marked" in w.value]
    assert "compared uncorrected" in " ".join(w.value for w in at.warning)
    assert "(without grey card)" in captions(at)
    assert button(at, "Clear grey card").disabled
    cleared = _results(data_dir, area_id)
    assert {r["colour"]["method"] for r in cleared} == {"none"}
    assert not any("card:" in r["roi_key"] for r in cleared)

    # Set it again (as the drag does, through the library) and revisit: recomputed.
    from progress import workflow

    s = stored(data_dir)
    workflow.set_area_card(s, area_id, (x0, y0, x1, y1))
    s.close()
    at.run()
    assert_clean(at, "Measure")
    assert f"Grey card: x {x0}–{x1}, y {y0}–{y1}" in captions(at)
    again = _results(data_dir, area_id)
    assert {r["colour"]["method"] for r in again} == {"grey-card"}
    # The correction is the same as the first time: same photos, same card.
    by_first = {round(r["metrics"]["lab_l"], 6) for r in first}
    assert {round(r["metrics"]["lab_l"], 6) for r in again} == by_first


def test_measure_scale_typed_measured_on_a_ruler_and_refused(two_sample_photos):
    data_dir, area_id = two_sample_photos
    at = new_app()
    at.run()
    at.switch_page(page_path("measure")).run()
    assert_clean(at, "Measure")
    w, h = TRUTH["image_size"]
    scale = TRUTH["px_per_mm"]
    assert f"Scale: {scale:g} px/mm" in captions(at)
    assert f"spans {w / scale:.0f} × {h / scale:.0f} mm" in captions(at)
    label = "Pixels per millimetre on the reference photo (0 = unknown)"
    assert number_input(at, label).value == pytest.approx(scale)

    # 0 = unknown: the nominal grid, said in the caption; the results are recomputed.
    number_input(at, label).set_value(0.0).run()
    assert_clean(at, "Measure")
    assert "Scale unknown" in captions(at)
    assert all("scale:" not in r["roi_key"] for r in _results(data_dir, area_id))

    # A scale that would blow the analysis grid up is refused with a reason.
    number_input(at, label).set_value(0.5).run()
    assert [e.value for e in at.error if "megapixel grid" in e.value]
    s = stored(data_dir)
    assert s.area_settings(area_id).get("scale_px_per_mm") is None
    s.close()

    # The ruler: two points 400 px apart (two ticks of the sample's ruler, 20 mm apart).
    at.toggle[0].set_value(True).run()
    assert "0 of 2 points clicked." in captions(at)
    assert button(at, "Use this scale").disabled
    ticks = TRUTH["landmarks"]["ruler"]["ticks_x"]
    y = TRUTH["landmarks"]["ruler"]["y_top"]
    at.session_state[f"ruler_{area_id}"] = [(ticks[0], y), (ticks[20], y)]
    at.run()
    px = ticks[20] - ticks[0]
    assert f"{px:.0f} px over 10 mm = **{px / 10:.2f} px/mm**" in captions(at)
    number_input(at, "Distance between the two points (mm)").set_value(20.0).run()
    assert f"= **{px / 20:.2f} px/mm**" in captions(at)
    button(at, f"Use {px / 20:.2f} px/mm").click().run()
    assert_clean(at, "Measure")
    s = stored(data_dir)
    assert s.area_settings(area_id)["scale_px_per_mm"] == pytest.approx(px / 20)
    s.close()
    assert all(f"scale:{px / 20:g}" in r["roi_key"] for r in _results(data_dir, area_id))
    assert f"Scale: {px / 20:g} px/mm" in captions(at)


def test_measure_and_timeline_use_and_name_the_clients_own_limits(empty_env):
    """Three photos of one session (issue 6): the page uses the client's own limits."""
    if not TRUTH:
        pytest.skip("sample_images/ is missing: run `python -m progress.samples`")
    from PIL import Image

    from progress import repeatability
    from progress.repeatability import Jitter, recapture

    # A 800 × 600 crop of the sample baseline (with its grey patch) and two simulated
    # re-captures of it, all in one session; a later session with a third re-capture.
    base = np.asarray(Image.open(SAMPLES / TRUTH["photos"][0]["file"]).convert("RGB"))
    crop = base[450:1050, 100:900].copy()
    rng = np.random.default_rng(11)
    again = [recapture(crop, rng, Jitter())[0] for _ in range(3)]
    s = stored(empty_env)
    area = s.add_area(s.add_client("Repeat test").id, "Left cheek")
    s.set_area_settings(area.id, {"card_box": [82, 432, 218, 568], "scale_px_per_mm": 20.0})
    first = s.session_for_date(area.id, date(2026, 3, 2))
    for i, rgb in enumerate([crop, again[0], again[1]]):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=92)
        s.add_photo(first.id, buf.getvalue(), name=f"repeat-{i}.jpg")
    later = s.session_for_date(area.id, date(2026, 4, 2))
    buf = io.BytesIO()
    Image.fromarray(again[2]).save(buf, "JPEG", quality=92)
    s.add_photo(later.id, buf.getvalue(), name="later.jpg")
    s.close()

    at = new_app()
    at.run()
    at.switch_page(page_path("measure")).run()
    assert_clean(at, "Measure")
    own = "Limits from this client's own repeated photos (1 series taken minutes apart, 3 photos)"
    assert own in captions(at)

    # The table's limit of a* is the client's own: 2.77 × the SD of the three repeats,
    # floored at half the shipped default with a card.
    s = stored(empty_env)
    results = s.results(area.id)
    photos = {p.display_name: p.id for p in s.photos(area_id=area.id)}
    s.close()
    values = [results[photos[f"repeat-{i}.jpg"]]["metrics"]["lab_a"] for i in range(3)]
    shipped = json.loads(
        (Path(repeatability.__file__).with_name("data") / "repeatability.json").read_text("utf-8")
    )
    default = shipped["metrics_with_card"]["lab_a"]["limit"]
    expected = max(FACTOR * float(np.std(values, ddof=1)), 0.5 * default)
    table = at.dataframe[0].value
    row = table[table["metric"] == METRICS["lab_a"].label].iloc[0]
    assert float(row["smallest real change"]) == pytest.approx(expected, rel=1e-3)

    # The timeline's band is baseline ± that limit, and its caption names the source.
    at.switch_page(page_path("timeline")).run()
    assert_clean(at, "Timeline")
    assert own in captions(at)
    spec = plotly_spec(at)
    names = [t.get("name", "") for t in spec["data"]]
    assert f"baseline ± {expected:.3g} (no measurable change)" in names
    [band] = [b for b in spec["layout"]["shapes"] if b.get("xref") == "paper"]
    assert band["y1"] - band["y0"] == pytest.approx(2 * expected, rel=1e-6)
