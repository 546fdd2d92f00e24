"""Tests of progress.report: PDF, chart PNG, CSV, JSON and ZIP exports.

Every expectation is written by hand from the synthetic data below (known pixels, known
numbers, known names), never computed by the code under test.
"""

from __future__ import annotations

import builtins
import csv
import io
import json
import math
import re
import shutil
import socket
import subprocess
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image

from progress.errors import ImageError
from progress.report import (
    ChartSeries,
    MetricRow,
    PhotoEntry,
    ReportData,
    aligned_zip,
    build_report_rows,
    chart_png,
    metrics_csv,
    metrics_json,
    pdf_report,
    report_meta,
)

CLIENT = "Zoë Ñandú"
RED = (200, 40, 40)
BLUE = (40, 40, 200)
INJECTION = "=cmd|' /C calc'!A0"
METRICS = ["redness_a", "ita", "roughness_ra", "spot_area", "glcm_contrast"]
LABELS = {
    "redness_a": "Redness (a*)",
    "ita": "Individual typology angle",
    "roughness_ra": "Roughness Ra",
    "spot_area": "Spot area",
    "glcm_contrast": "GLCM contrast",
}
PDFTOPPM = shutil.which("pdftoppm")
PDFTOTEXT = shutil.which("pdftotext")


def _photo(colour: tuple[int, int, int]) -> np.ndarray:
    """200 × 300 RGB: a flat colour with a thin white frame."""
    img = np.empty((200, 300, 3), dtype=np.uint8)
    img[:] = colour
    img[:4] = img[-4:] = 255
    img[:, :4] = img[:, -4:] = 255
    return img


# day, within 7 days, label, date, values (redness, ita, ra, spot, contrast), warnings
_PHOTOS = [
    (-1, False, "Baseline", date(2024, 1, 9), (14.0, 38.5, 2.1, 0.08, 0.45), []),
    (3, True, "3 days after session 1", date(2024, 1, 13), (19.5, 36.0, 2.2, 0.08, 0.47), []),
    (27, False, "Before session 2", date(2024, 2, 6), (13.8, 39.0, 1.9, 0.07, 0.44), ["blurred"]),
    (31, True, "Contrôle 2", date(2024, 2, 10), (18.9, 37.0, 2.0, math.nan, 0.46), []),
    (55, False, "Before session 3", date(2024, 3, 5), (13.5, 40.2, 1.8, 0.06, 0.1 + 0.2), []),
    (
        84,
        False,
        INJECTION,
        date(2024, 4, 3),
        (13.1, 41.0, 1.7, 0.05, 0.41),
        ["blurred", "-5 % exposure"],
    ),
]
TREATMENT_DAYS = [0.0, 28.0, 56.0]


def make_photos() -> list[PhotoEntry]:
    return [
        PhotoEntry(
            photo_id=i + 1,
            session_label=label,
            taken=taken,
            day=float(day),
            values=dict(zip(METRICS, vals, strict=True)),
            confidence=0.9 - 0.05 * i,
            quality_warnings=warn,
            within_7_days=hot,
        )
        for i, (day, hot, label, taken, vals, warn) in enumerate(_PHOTOS)
    ]


BAND_DAYS = [-1.0, 0.0, 3.0, 7.0, 28.0, 31.0, 35.0, 56.0, 59.0, 63.0, 84.0]
LIMITS = {"redness_a": 0.8, "ita": 1.5, "roughness_ra": 0.5}


def make_series(name: str, **changes) -> ChartSeries:
    k = METRICS.index(name)
    base = _PHOTOS[0][4][k]
    sign = 1.0 if name == "ita" else -1.0
    centre = [
        base * (1 + sign * 0.06 * max(d, 0.0) / 84) + (4.0 if name == "redness_a" and d % 28 == 3 else 0.0)
        for d in BAND_DAYS
    ]  # fmt: skip
    fields = dict(
        label=LABELS[name],
        unit={"redness_a": "a*", "ita": "°", "roughness_ra": "L*"}.get(name, ""),
        days=[float(p[0]) for p in _PHOTOS],
        values=[p[4][k] for p in _PHOTOS],
        band_days=BAND_DAYS,
        band_low=[c - 0.06 * base for c in centre],
        band_high=[c + 0.06 * base for c in centre],
        limit=LIMITS.get(name, 0.1),
        inflamed=[p[1] for p in _PHOTOS],
        treatment_days=TREATMENT_DAYS,
        phases=[
            ("inflammation", 0.0, 7.0),
            ("inflammation", 28.0, 35.0),
            ("inflammation", 56.0, 63.0),
            ("proliferation and remodelling", 7.0, 28.0),
        ],
    )
    fields.update(changes)
    return ChartSeries(**fields)


def make_data(**changes) -> ReportData:
    table = [
        MetricRow("redness_a", LABELS["redness_a"], "a*", "lower", 14.0, 13.1, -0.9, 0.8, "improved"),
        MetricRow("ita", LABELS["ita"], "°", "higher", 38.5, 41.0, 2.5, 1.5, "improved"),
        MetricRow("roughness_ra", LABELS["roughness_ra"], "L*", "lower", 2.1, 1.7, -0.4, 0.5,
                  "no measurable change"),
        MetricRow("spot_area", LABELS["spot_area"], "", "lower", 0.08, 0.05, -0.03, 0.01, "improved"),
        MetricRow("glcm_contrast", LABELS["glcm_contrast"], "", "lower", 0.45, 0.51, 0.06, 0.03,
                  "worse"),
    ]  # fmt: skip
    fields = dict(
        client=CLIENT,
        skin_type=3,
        area="Left cheek",
        treatment_days=TREATMENT_DAYS,
        treatment_dates=[date(2024, 1, 10), date(2024, 2, 7), date(2024, 3, 6)],
        photos=make_photos(),
        table=table,
        before=_photo(RED),
        after=_photo(BLUE),
        before_label="Baseline, 2024-01-09",
        after_label="Follow-up, 2024-04-03",
        flags=[
            "Redness 3 days after session 2 is within the expected healing range.",
            "Two photos are blurred; their texture values are less reliable.",
        ],
        charts={m: make_series(m) for m in ("redness_a", "ita", "roughness_ra")},
        method_notes=[
            "Colour measured in CIELAB (D65) after grey-card normalisation.",
            "Repeatability limits come from repeated photos of the same skin.",
            "Photos within 7 days after a session are shown but not used for progress.",
        ],
        generated_at=datetime(2024, 4, 5, 9, 30, tzinfo=UTC),
    )
    fields.update(changes)
    return ReportData(**fields)


@pytest.fixture(scope="module")
def pdf_bytes() -> bytes:
    return pdf_report(make_data())


def _page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        [PDFTOTEXT, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=60
    )
    return out.stdout.decode("utf-8")


# --------------------------------------------------------------------------------- PDF


def test_pdf_structure_and_page_count(pdf_bytes):
    assert pdf_bytes.startswith(b"%PDF-")
    assert pdf_bytes.rstrip(b"\r\n").endswith(b"%%EOF")
    # cover; table + photos + flags; 3 charts at two per page; notes in the free half.
    assert _page_count(pdf_bytes) == 4


def test_pdf_page_count_follows_charts():
    one = pdf_report(make_data(charts={"ita": make_series("ita")}))
    assert _page_count(one) == 3
    none = pdf_report(make_data(charts={}, before=None, after=None))
    assert _page_count(none) == 2


def test_pdf_metadata_is_generic(pdf_bytes):
    info = re.search(rb"/Title\s*\(([^)]*)\)", pdf_bytes)
    assert info is not None and info.group(1) == b"Skin treatment progress report"
    assert b"/Author" not in pdf_bytes
    # The name is not readable anywhere outside the compressed page content.
    for enc in ("utf-8", "latin-1", "utf-16-be"):
        assert CLIENT.encode(enc) not in pdf_bytes
        assert "Ñandú".encode(enc) not in pdf_bytes


@pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext (poppler-utils) is not installed")
def test_pdf_text(pdf_bytes, tmp_path):
    text = _pdftotext(pdf_bytes, tmp_path)
    flat = " ".join(text.split())
    assert CLIENT in flat
    assert "This report is not a diagnosis" in flat
    for label in LABELS.values():
        assert label in flat
    assert "Fitzpatrick type III" in flat
    assert "2024-01-10, 2024-02-07, 2024-03-06" in flat
    assert "Redness (a*) ↓" in flat and "Individual typology angle ↑" in flat
    assert "no measurable change" in flat and "worse" in flat
    assert "blurred; -5 % exposure" in flat
    assert "Page 1 of 4" in flat and "Page 4 of 4" in flat
    assert "Generated 2024-04-05 09:30" in flat
    assert "Repeatability limits come from repeated photos of the same skin." in flat
    # Three significant figures of the larger of baseline and latest, same decimals in a row
    assert "14.0 13.1 −0.9 0.8 improved" in flat
    assert "0.0800 0.0500 −0.0300 0.0100 improved" in flat
    assert "0.450 0.510 +0.060 0.030 worse" in flat


@pytest.mark.skipif(PDFTOTEXT is None, reason="pdftotext (poppler-utils) is not installed")
def test_pdf_missing_glyphs_replaced_or_taken_from_fallback(tmp_path):
    stix = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "STIXGeneral.ttf"
    name = "Zoë Ⓩ 面"  # Ⓩ: not in DejaVu Sans, in STIX; 面: in neither
    plain = _pdftotext(pdf_report(make_data(client=name, charts={})), tmp_path)
    assert "Zoë" in plain and "\ufffd" in plain
    assert "面" not in plain and "Ⓩ" not in plain
    with_fallback = _pdftotext(
        pdf_report(make_data(client=name, charts={}), fallback_fonts=[stix]), tmp_path
    )
    assert "Zoë Ⓩ \ufffd" in with_fallback


@pytest.mark.skipif(PDFTOPPM is None, reason="pdftoppm (poppler-utils) is not installed")
def test_pdf_page1_shows_both_photos_large(pdf_bytes, tmp_path):
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf_bytes)
    subprocess.run(
        [PDFTOPPM, "-r", "40", "-f", "1", "-l", "1", "-png", "-singlefile", str(path),
         str(tmp_path / "p1")],
        check=True,
        timeout=60,
    )  # fmt: skip
    page = np.asarray(Image.open(tmp_path / "p1.png").convert("RGB")).astype(int)
    h, w = page.shape[:2]
    assert page.std() > 10  # not blank

    def box(colour):
        mask = np.all(np.abs(page - np.array(colour)) < 30, axis=2)
        ys, xs = np.nonzero(mask)
        assert xs.size > 0, f"no {colour} pixels on page 1"
        return xs.min(), xs.max(), ys.min(), ys.max()

    rx0, rx1, ry0, ry1 = box(RED)
    bx0, bx1, by0, by1 = box(BLUE)
    # Side by side, before on the left, each about 87 mm of 210 mm wide.
    assert rx1 < bx0
    assert rx1 - rx0 > 0.35 * w and bx1 - bx0 > 0.35 * w
    assert abs(ry0 - by0) <= 2 and ry1 < h * 0.9


def test_pdf_writes_no_files_and_uses_no_network(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("pdf_report must not create temp files or open sockets")

    for fn in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile"):
        monkeypatch.setattr(tempfile, fn, forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    real_open = builtins.open

    def read_only_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+"):
            forbidden()
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only_open)
    out = pdf_report(make_data(charts={"ita": make_series("ita")}))
    assert out.startswith(b"%PDF-")


def _image_objects(pdf: bytes) -> list[dict[str, bytes]]:
    """Width, Height and Filter of every image XObject (dictionaries are uncompressed)."""
    found = []
    for d in re.findall(rb"<<((?:(?!>>\s*stream).)*?/Subtype /Image.*?)>>\s*stream", pdf, re.S):
        found.append({k: re.search(rb"/" + k + rb" /?(\w+)", d).group(1)
                      for k in (b"Width", b"Height", b"Filter")})  # fmt: skip
    return found


def test_pdf_large_photo_is_downscaled_jpeg():
    big = np.zeros((2400, 3600, 3), dtype=np.uint8)
    big[..., 0] = 200
    tall = np.zeros((3000, 1500, 3), dtype=np.uint8)
    out = pdf_report(make_data(before=big, after=tall, charts={}))
    images = _image_objects(out)
    assert {(i[b"Width"], i[b"Height"]) for i in images} == {(b"1200", b"800"), (b"600", b"1200")}
    assert {i[b"Filter"] for i in images} == {b"DCTDecode"}


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"before": np.zeros((20, 30, 3), dtype=float)}, ImageError, "uint8"),
        ({"after": np.zeros((20, 30, 4), dtype=np.uint8)}, ImageError, "shape"),
        ({"skin_type": 7}, ValueError, "Fitzpatrick"),
        (
            {"table": [MetricRow("a", "A", "", "down", 1.0, 1.0, 0.0, 0.1, "improved")]},
            ValueError,
            "better",
        ),
        (
            {"table": [MetricRow("a", "A", "", "lower", 1.0, 1.0, 0.0, 0.1, "better")]},
            ValueError,
            "verdict",
        ),
        ({"charts": {"ita": make_series("ita", values=[1.0])}}, ValueError, "one day per value"),
    ],
)
def test_pdf_validation(changes, error, match):
    with pytest.raises(error, match=match):
        pdf_report(make_data(**changes))


def test_pdf_all_nan_chart_becomes_a_note():
    series = make_series("ita", values=[math.nan] * 6)
    out = pdf_report(make_data(charts={"ita": series}))
    assert _page_count(out) == 3


# ------------------------------------------------------------------------------- chart


@pytest.mark.parametrize(("w", "h"), [(640, 360), (1000, 333), (1200, 600)])
def test_chart_png_size(w, h):
    png = chart_png(make_series("redness_a"), width_px=w, height_px=h)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    img = Image.open(io.BytesIO(png))
    assert img.size == (w, h)
    assert np.asarray(img.convert("L")).std() > 5


@pytest.mark.parametrize("values", [[], [math.nan] * 6])
def test_chart_png_empty_series(values):
    days = [] if not values else [float(p[0]) for p in _PHOTOS]
    inflamed = [] if not values else [False] * 6
    series = make_series("ita", days=days, values=values, inflamed=inflamed)
    with pytest.raises(ValueError, match="no finite values to plot"):
        chart_png(series)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"values": [1.0, 2.0]}, "one day per value"),
        ({"inflamed": [False]}, "one flag per value"),
        ({"band_low": None}, "all be given"),
        ({"band_high": [1.0]}, "differ in length"),
        ({"limit": -1.0}, ">= 0"),
    ],
)
def test_chart_png_validation(changes, match):
    with pytest.raises(ValueError, match=match):
        chart_png(make_series("ita", **changes))


def test_chart_png_size_validation():
    with pytest.raises(ValueError, match="width_px"):
        chart_png(make_series("ita"), width_px=50)


def test_inflamed_points_are_hollow():
    """One point: its marker centre is the series blue when filled, white when hollow."""
    series_colour = np.array([0x1F, 0x5F, 0xA8])

    def marker_centre(inflamed: bool) -> np.ndarray:
        s = make_series(
            "ita", days=[10.0], values=[38.0], inflamed=[inflamed], limit=None,
            band_days=None, band_low=None, band_high=None, phases=[], treatment_days=[],
        )  # fmt: skip
        img = np.asarray(Image.open(io.BytesIO(chart_png(s, width_px=800, height_px=400))))
        plot = img[:300].astype(int)  # above the legend
        ys, xs = np.nonzero(np.all(np.abs(plot - series_colour) < 40, axis=2))
        assert ys.size > 20
        assert ys.max() - ys.min() < 20 and xs.max() - xs.min() < 20  # one small marker
        return plot[(ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2]

    assert np.abs(marker_centre(False) - series_colour).max() < 40
    assert marker_centre(True).min() > 230


def test_chart_png_threads_give_the_same_pictures():
    unique = [make_series(m) for m in ("redness_a", "ita")]
    serial = [chart_png(s, width_px=400, height_px=200) for s in unique]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda s: chart_png(s, width_px=400, height_px=200), unique * 2))
    assert threaded == serial * 2


# --------------------------------------------------------------------------------- CSV

HEADER = [
    "photo_id", "session", "taken", "day", "within_7_days", "confidence", "quality_warnings",
    "redness_a", "ita", "roughness_ra", "spot_area", "glcm_contrast",
]  # fmt: skip


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_shape_and_header():
    out = metrics_csv(build_report_rows(make_photos(), metric_names=METRICS))
    assert out.startswith(b"\xef\xbb\xbf")
    rows = _csv_rows(out)
    assert rows[0] == HEADER
    assert len(rows) == 1 + 6
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4", "5", "6"]
    assert rows[4][1] == "Contrôle 2"
    assert rows[1][2] == "2024-01-09" and rows[2][4] == "true" and rows[1][4] == "false"


def test_csv_values_and_escaping():
    rows = _csv_rows(metrics_csv(build_report_rows(make_photos(), metric_names=METRICS)))
    col = {name: i for i, name in enumerate(rows[0])}
    assert rows[6][col["session"]] == "'" + INJECTION  # text formula escaped
    assert rows[6][col["quality_warnings"]] == "blurred; -5 % exposure"  # not at start
    assert rows[1][col["day"]] == "-1.0"  # a negative NUMBER is left alone
    assert rows[4][col["spot_area"]] == ""  # NaN → empty cell
    cell = rows[5][col["glcm_contrast"]]
    assert cell == "0.30000000000000004" and float(cell) == 0.1 + 0.2


def test_csv_escapes_every_formula_start_in_text_only():
    rows = [{"t": s, "n": -1.5} for s in ("=1", "+1", "-1", "@x", "\tx", "ok", "")]
    out = _csv_rows(metrics_csv(rows, bom=False))
    assert [r[0] for r in out[1:]] == ["'=1", "'+1", "'-1", "'@x", "'\tx", "ok", ""]
    assert {r[1] for r in out[1:]} == {"-1.5"}


def test_csv_header_union_and_columns():
    rows = [{"b": 1, "a": 2}, {"c": 3, "a": 4}]
    assert _csv_rows(metrics_csv(rows))[0] == ["b", "a", "c"]
    out = metrics_csv(rows, columns=["c", "a"], delimiter=";", bom=False)
    assert out == b"c;a;b\r\n;2;1\r\n3;4;\r\n"
    parsed = list(csv.reader(io.StringIO(out.decode("utf-8")), delimiter=";"))
    assert parsed == [["c", "a", "b"], ["", "2", "1"], ["3", "4", ""]]


def test_build_report_rows_missing_metric_is_nan():
    photos = make_photos()[:1]
    rows = build_report_rows(photos, metric_names=["ita", "unknown"])
    assert list(rows[0])[-2:] == ["ita", "unknown"]
    assert rows[0]["ita"] == 38.5 and math.isnan(rows[0]["unknown"])


# -------------------------------------------------------------------------------- JSON


def test_json_round_trip():
    data = make_data()
    out = metrics_json(build_report_rows(data.photos, metric_names=METRICS), meta=report_meta(data))

    def no_constants(token):
        raise AssertionError(f"non-standard JSON constant {token}")

    doc = json.loads(out.decode("utf-8"), parse_constant=no_constants)
    assert set(doc) == {"meta", "photos"}
    assert doc["meta"]["client"] == CLIENT
    assert doc["meta"]["generated_at"] == "2024-04-05T09:30:00+00:00"
    assert doc["meta"]["treatment_dates"] == ["2024-01-10", "2024-02-07", "2024-03-06"]
    assert doc["meta"]["table"][4]["verdict"] == "worse"
    assert len(doc["photos"]) == 6
    assert doc["photos"][3]["spot_area"] is None  # NaN → null
    assert doc["photos"][0]["day"] == -1.0
    assert doc["photos"][4]["glcm_contrast"] == 0.30000000000000004
    assert doc["photos"][5]["quality_warnings"] == ["blurred", "-5 % exposure"]
    assert list(doc["photos"][0]) == HEADER


def test_json_numpy_and_inf():
    doc = json.loads(
        metrics_json(
            [{"a": np.float32(0.5), "b": np.int64(3), "c": np.inf, "d": np.array([1.0, np.nan])}],
            meta={},
        )
    )
    assert doc["photos"] == [{"a": 0.5, "b": 3, "c": None, "d": [1.0, None]}]


def test_json_rejects_unknown_types():
    with pytest.raises(TypeError, match=r"photos\[0\]"):
        metrics_json([{"a": object()}], meta={})


# --------------------------------------------------------------------------------- ZIP


def _gradient(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)


def test_zip_names_and_pixels():
    names = ["../../etc/x", "x", "C:\\Users\\ann\\photo.JPG", "..", "con", ".hidden", "X.png"]
    images = [(n, _gradient(i)) for i, n in enumerate(names)]
    out = aligned_zip(images, date_time=datetime(2024, 4, 5, 9, 30))
    with zipfile.ZipFile(io.BytesIO(out)) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == [
            "x.png",
            "x_2.png",
            "photo.png",
            "image.png",
            "_con.png",
            "hidden.png",
            "X_3.png",
        ]
        for (_, img), name in zip(images, zf.namelist(), strict=True):
            decoded = np.asarray(Image.open(io.BytesIO(zf.read(name))))
            np.testing.assert_array_equal(decoded, img)
        assert zf.getinfo("x.png").date_time == (2024, 4, 5, 9, 30, 0)


def test_zip_jpeg_and_grey():
    smooth = np.tile(np.linspace(60, 200, 64).astype(np.uint8), (48, 1))
    rgb = np.stack([smooth, smooth // 2, smooth // 3], axis=2)
    out = aligned_zip([("a b/ç.tif", rgb), ("g", smooth)], fmt="jpeg")
    with zipfile.ZipFile(io.BytesIO(out)) as zf:
        assert zf.namelist() == ["ç.jpg", "g.jpg"]
        back = np.asarray(Image.open(io.BytesIO(zf.read("ç.jpg")))).astype(int)
        assert np.abs(back - rgb).mean() < 2.0
        assert np.asarray(Image.open(io.BytesIO(zf.read("g.jpg")))).shape == (48, 64)


@pytest.mark.parametrize(
    ("images", "kwargs", "error", "match"),
    [
        ([], {}, ValueError, "at least one"),
        ([("a", np.zeros((4, 4, 3)))], {}, ImageError, "uint8"),
        ([("a", np.zeros((4, 4, 4), np.uint8))], {"fmt": "jpeg"}, ImageError, "shape"),
        ([("a", np.zeros((4, 4, 3), np.uint8))], {"fmt": "gif"}, ValueError, "fmt"),
    ],
)
def test_zip_validation(images, kwargs, error, match):
    with pytest.raises(error, match=match):
        aligned_zip(images, **kwargs)
