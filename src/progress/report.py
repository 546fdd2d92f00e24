"""Downloadable reports: a PDF summary, CSV and JSON of every metric, a ZIP of photos.

Everything arrives as plain data (:class:`ReportData`, :class:`ChartSeries`, mappings of
metric values); this module neither reads the store nor computes a metric. It is used by
the dashboard, the batch command and the tests, and imports no Streamlit.

Thread safety: every function builds its own :class:`matplotlib.figure.Figure` (Agg
canvas, never ``pyplot``) and its own :class:`fpdf.FPDF`, so calls from several threads
of a web server do not share mutable state. Nothing is written to disk and nothing goes
over the network: fonts are read from matplotlib's bundled DejaVu Sans.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import os
import re
import textwrap
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path, PurePath

import matplotlib
import numpy as np
from fontTools.ttLib import TTFont
from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from PIL import Image

from progress.errors import ImageError

__all__ = [
    "ChartSeries",
    "MetricRow",
    "PhotoEntry",
    "ReportData",
    "aligned_zip",
    "build_report_rows",
    "chart_png",
    "metrics_csv",
    "metrics_json",
    "pdf_report",
    "report_meta",
]

VERDICTS = ("improved", "worse", "no measurable change", "not measured")
"""The verdicts a :class:`MetricRow` may carry."""

PDF_TITLE = "Skin treatment progress report"
"""Title written on page 1 and into the PDF metadata (never the client's name)."""

DISCLAIMER = (
    "This report is not a diagnosis. It compares measurements taken from photographs; "
    "light, camera and pose change them too. A change smaller than a measure's "
    "repeatability limit is reported as \u201cno measurable change\u201d. "
    "Discuss any concern about your skin with a qualified clinician."
)

PHOTO_MAX_SIDE = 1200
"""Long side, in pixels, to which the before/after photos are reduced in the PDF."""

PHOTO_COLUMNS = (
    "photo_id",
    "session",
    "taken",
    "day",
    "within_7_days",
    "confidence",
    "quality_warnings",
)
"""Identity and meta columns that :func:`build_report_rows` puts before the metrics."""

_FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_FONT_FILES = {
    "": _FONT_DIR / "DejaVuSans.ttf",
    "B": _FONT_DIR / "DejaVuSans-Bold.ttf",
}  # only the styles used: every registered font costs parsing and subsetting time
_FAMILY = "dejavu"
_REPLACEMENT = "\ufffd"

_CHART_WIDTH_IN = 7.5  # physical width of a chart: fixes text size relative to the plot
_SERIES_COLOUR = "#1f5fa8"
_TREATMENT_COLOUR = "#444444"
_EXPECTED_COLOUR = "#2e8b57"
_LIMIT_COLOUR = "#8c8c8c"
_PHASE_COLOURS = ("#f6c9a8", "#cfe3f2", "#e4d3ec", "#d8ecc9", "#f9e7a9", "#d9d9d9")

_VERDICT_STYLE = {
    "improved": ((21, 101, 52), (220, 243, 226)),
    "worse": ((153, 27, 27), (252, 226, 226)),
    "no measurable change": ((70, 70, 70), (240, 240, 240)),
    "not measured": ((120, 120, 120), (255, 255, 255)),
}
_FITZPATRICK = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}


# ---------------------------------------------------------------------------------------
# Plain data
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricRow:
    """One row of the metric table: a measure at baseline and now, and the verdict.

    Attributes
    ----------
    name, label, unit : str
        Registry key, human label and unit of the measure.
    better : {"lower", "higher"}
        Which direction of change is an improvement.
    baseline, latest, change, limit : float
        Value at baseline, latest value, ``latest - baseline``, and the repeatability
        limit (smallest change that is larger than the capture noise).
    verdict : {"improved", "worse", "no measurable change", "not measured"}
    """

    name: str
    label: str
    unit: str
    better: str
    baseline: float
    latest: float
    change: float
    limit: float
    verdict: str


@dataclass(frozen=True)
class PhotoEntry:
    """One photo of the treated area, with its metric values and quality notes.

    Attributes
    ----------
    photo_id : int
    session_label : str
        E.g. ``"Before session 2"``.
    taken : date or datetime
    day : float
        Days since the first treatment (negative before it).
    values : Mapping[str, float]
        Metric name → value (NaN where the metric failed).
    confidence : float or None
        Overall confidence of the measurement (0–1), if known.
    quality_warnings : Sequence[str]
        Plain-language warnings from the quality check.
    within_7_days : bool
        Whether the photo was taken within 7 days after a session (it then shows the
        inflammation of healing, not the result).
    """

    photo_id: int
    session_label: str
    taken: date | datetime
    day: float
    values: Mapping[str, float]
    confidence: float | None
    quality_warnings: Sequence[str]
    within_7_days: bool


@dataclass(frozen=True)
class ChartSeries:
    """One metric over time, with the context to draw around it.

    Attributes
    ----------
    label, unit : str
        Axis label and unit.
    days, values : Sequence[float]
        One point per photo (NaN values are skipped).
    band_days, band_low, band_high : Sequence[float] or None
        Expected range over time (all three or none).
    limit : float or None
        Repeatability limit; a band of ``baseline ± limit`` is drawn, where the baseline
        is the first finite value of a photo not taken within 7 days after a session.
    inflamed : Sequence[bool]
        Per point: taken within 7 days after a session (drawn as a hollow marker).
    treatment_days : Sequence[float]
        Days of the treatment sessions (vertical dashed lines).
    phases : Sequence[tuple[str, float, float]]
        ``(name, start_day, end_day)`` spans to shade; equal names share a colour.
    """

    label: str
    unit: str
    days: Sequence[float]
    values: Sequence[float]
    band_days: Sequence[float] | None
    band_low: Sequence[float] | None
    band_high: Sequence[float] | None
    limit: float | None
    inflamed: Sequence[bool]
    treatment_days: Sequence[float]
    phases: Sequence[tuple[str, float, float]]


@dataclass(frozen=True)
class ReportData:
    """Everything the PDF report shows, as plain data.

    Attributes
    ----------
    client, area : str
    skin_type : int or None
        Fitzpatrick skin type 1–6.
    treatment_days, treatment_dates : Sequence
        The sessions, as days since the first treatment and as dates.
    photos : Sequence[PhotoEntry]
    table : Sequence[MetricRow]
    before, after : numpy.ndarray or None
        Aligned uint8 RGB photos in the same frame.
    before_label, after_label : str
    flags : Sequence[str]
        Plain sentences from the timeline assessment.
    charts : Mapping[str, ChartSeries]
        Metric name → series to plot (in this order).
    method_notes : Sequence[str]
    generated_at : datetime
    """

    client: str
    skin_type: int | None
    area: str
    treatment_days: Sequence[float]
    treatment_dates: Sequence[date]
    photos: Sequence[PhotoEntry]
    table: Sequence[MetricRow]
    before: np.ndarray | None
    after: np.ndarray | None
    before_label: str
    after_label: str
    flags: Sequence[str]
    charts: Mapping[str, ChartSeries]
    method_notes: Sequence[str]
    generated_at: datetime


# ---------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------


def _float_array(values: object, what: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a sequence of numbers ({exc}).") from exc
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional; got shape {arr.shape}.")
    return arr


def _series_arrays(series: ChartSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a series; return days, values, inflamed (all of equal length)."""
    if not isinstance(series, ChartSeries):
        raise TypeError(f"Expected a ChartSeries, got {type(series).__name__}.")
    name = series.label or "(unnamed)"
    days = _float_array(series.days, f"Chart '{name}': days")
    values = _float_array(series.values, f"Chart '{name}': values")
    if days.size != values.size:
        raise ValueError(
            f"Chart '{name}' has {days.size} days but {values.size} values; give one day per value."
        )
    inflamed = np.asarray(series.inflamed, dtype=bool).reshape(-1)
    if inflamed.size != values.size:
        raise ValueError(
            f"Chart '{name}' has {inflamed.size} 'inflamed' flags for {values.size} "
            "values; give one flag per value (False where unknown)."
        )
    band = (series.band_days, series.band_low, series.band_high)
    if any(b is not None for b in band):
        if any(b is None for b in band):
            raise ValueError(
                f"Chart '{name}': band_days, band_low and band_high must all be given "
                "or all be None."
            )
        sizes = {_float_array(b, f"Chart '{name}': expected band").size for b in band}
        if len(sizes) != 1:
            raise ValueError(f"Chart '{name}': band_days, band_low and band_high differ in length.")
    if series.limit is not None and math.isfinite(series.limit) and series.limit < 0:
        raise ValueError(
            f"Chart '{name}': the repeatability limit must be >= 0, got {series.limit}."
        )
    for phase in series.phases:
        if len(phase) != 3:
            raise ValueError(
                f"Chart '{name}': each phase must be (name, start_day, end_day); got {phase!r}."
            )
    return days, values, inflamed


def _has_points(series: ChartSeries) -> bool:
    days, values, _ = _series_arrays(series)
    return bool(np.any(np.isfinite(days) & np.isfinite(values)))


def _baseline(values: np.ndarray, inflamed: np.ndarray) -> float:
    finite = np.isfinite(values)
    calm = finite & ~inflamed
    pick = calm if calm.any() else finite
    return float(values[np.flatnonzero(pick)[0]])


def _check_size(width_px: int, height_px: int) -> None:
    for name, v in (("width_px", width_px), ("height_px", height_px)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 100 <= v <= 8000:
            raise ValueError(f"{name} must be an integer from 100 to 8000; got {v!r}.")


def chart_png(series: ChartSeries, *, width_px: int = 1200, height_px: int = 600) -> bytes:
    """Draw one metric against days since the first treatment, as a PNG.

    Parameters
    ----------
    series : ChartSeries
        The points and their context (treatment days, healing phases, expected range,
        repeatability limit, which photos were taken during inflammation).
    width_px, height_px : int, optional
        Exact size of the PNG in pixels (100–8000 each).

    Returns
    -------
    bytes
        An opaque RGB PNG of exactly ``width_px`` × ``height_px`` pixels.

    Raises
    ------
    ValueError
        If the series has no finite point, its sequences differ in length, or the size
        is out of range.

    Notes
    -----
    Drawn on a fresh :class:`matplotlib.figure.Figure` with an Agg canvas (no
    ``pyplot`` state), so concurrent calls from several threads are safe. The figure is
    always 7.5 inches wide and its dpi is ``width_px / 7.5``: text keeps the same size
    relative to the plot at any resolution, and reads at about 9 pt when the chart is
    printed 18 cm wide.

    Elements: photos as filled markers joined by a line; photos taken within 7 days
    after a session as hollow markers, not joined (they measure inflammation, not
    progress); sessions as dashed vertical lines; phases as shaded spans; the expected
    range as a green band; ``baseline ± limit`` as a grey band around a dotted baseline.
    """
    _check_size(width_px, height_px)
    days, values, inflamed = _series_arrays(series)
    ok = np.isfinite(days) & np.isfinite(values)
    if values.size == 0 or not ok.any():
        raise ValueError(
            f"Chart '{series.label}' has no finite values to plot; "
            "leave the metric out of the charts or measure at least one photo."
        )

    dpi = width_px / _CHART_WIDTH_IN
    fig = Figure(
        figsize=(width_px / dpi, height_px / dpi),
        dpi=dpi,
        layout="constrained",
        facecolor="white",
    )
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    slots: dict[str, object] = {}  # legend entries, put in a fixed order at the end

    # x range: the photos and the sessions, with a small margin.
    xs = np.concatenate([days[ok], _float_array(series.treatment_days, "treatment_days")])
    xs = xs[np.isfinite(xs)]
    lo, hi = float(xs.min()), float(xs.max())
    pad = max(1.0, 0.03 * (hi - lo))
    xlim = (lo - pad, hi + pad)

    # Phases (shaded spans; one colour and one legend entry per distinct name).
    phase_colour: dict[str, str] = {}
    for name, start, end in series.phases:
        colour = phase_colour.setdefault(
            str(name), _PHASE_COLOURS[len(phase_colour) % len(_PHASE_COLOURS)]
        )
        ax.axvspan(float(start), float(end), color=colour, alpha=0.45, lw=0, zorder=0)
    for name, colour in phase_colour.items():
        slots[f"phase:{name}"] = Patch(facecolor=colour, alpha=0.45, label=f"phase: {name}")

    # Expected range.
    if series.band_days is not None:
        bd = _float_array(series.band_days, "band_days")
        order = np.argsort(bd)
        ax.fill_between(
            bd[order],
            _float_array(series.band_low, "band_low")[order],
            _float_array(series.band_high, "band_high")[order],
            color=_EXPECTED_COLOUR,
            alpha=0.18,
            lw=0,
            zorder=1,
        )
        slots["expected"] = Patch(facecolor=_EXPECTED_COLOUR, alpha=0.18, label="expected range")

    # Baseline ± repeatability limit.
    limit = series.limit
    if limit is not None and math.isfinite(limit) and limit > 0:
        base = _baseline(values, inflamed)
        ax.axhspan(base - limit, base + limit, color=_LIMIT_COLOUR, alpha=0.22, lw=0, zorder=1)
        ax.axhline(base, color=_LIMIT_COLOUR, ls=":", lw=1.2, zorder=2)
        slots["limit"] = Patch(
            facecolor=_LIMIT_COLOUR, alpha=0.22, label="baseline \u00b1 repeatability limit"
        )

    # Treatment sessions.
    tdays = _float_array(series.treatment_days, "treatment_days")
    for t in tdays[np.isfinite(tdays)]:
        ax.axvline(float(t), color=_TREATMENT_COLOUR, ls="--", lw=1.0, zorder=2)
    if np.isfinite(tdays).any():
        slots["treatment"] = Line2D(
            [], [], color=_TREATMENT_COLOUR, ls="--", lw=1.0, label="treatment session"
        )

    # The photos.
    order = np.argsort(days, kind="stable")
    d, v, inf_ = days[order], values[order], inflamed[order]
    ok_sorted = np.isfinite(d) & np.isfinite(v)
    calm = ok_sorted & ~inf_
    hot = ok_sorted & inf_
    if calm.any():
        ax.plot(d[calm], v[calm], color=_SERIES_COLOUR, lw=1.6, marker="o", ms=6, zorder=4)
        slots["photo"] = Line2D(
            [], [], color=_SERIES_COLOUR, lw=1.6, marker="o", ms=6, label="photo"
        )
    if hot.any():
        ax.plot(
            d[hot],
            v[hot],
            ls="none",
            marker="o",
            ms=7,
            mfc="white",
            mec=_SERIES_COLOUR,
            mew=1.6,
            zorder=5,
        )
        slots["inflamed"] = Line2D(
            [],
            [],
            ls="none",
            marker="o",
            ms=7,
            mfc="white",
            mec=_SERIES_COLOUR,
            mew=1.6,
            label="photo \u2264 7 days after a session",
        )

    ax.set_xlim(*xlim)
    ax.set_xlabel("Days since first treatment")
    unit = f" ({series.unit})" if series.unit and f"({series.unit})" not in series.label else ""
    ax.set_ylabel(series.label + unit)
    ax.set_title(series.label, loc="left", fontsize=11, fontweight="bold")
    ax.grid(True, color="#e3e3e3", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    first = ("photo", "inflamed", "treatment", "limit", "expected")
    handles = [slots[k] for k in first if k in slots]
    handles += [h for k, h in slots.items() if k not in first]
    for h in handles:  # long phase names: wrap so that three columns fit the width
        h.set_label(textwrap.fill(h.get_label(), 34))
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(3, max(1, len(handles))),
        frameon=False,
        fontsize=8,
    )

    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    rgb = np.ascontiguousarray(rgba[..., :3])
    if rgb.shape[:2] != (height_px, width_px):  # defensive: float rounding of the canvas
        out = np.full((height_px, width_px, 3), 255, dtype=np.uint8)
        h, w = min(height_px, rgb.shape[0]), min(width_px, rgb.shape[1])
        out[:h, :w] = rgb[:h, :w]
        rgb = out
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _cmap(path: str) -> frozenset[int]:
    """Code points that a font file can draw."""
    font = TTFont(path, lazy=True)
    try:
        return frozenset(font.getBestCmap() or {})
    finally:
        font.close()


def _as_date(t: date | datetime) -> date:
    return t.date() if isinstance(t, datetime) else t


def _fmt_when(t: date | datetime) -> str:
    if isinstance(t, datetime):
        s = t.strftime("%Y-%m-%d %H:%M")
        if t.tzinfo is not None:
            s += " " + (t.tzname() or t.strftime("%z"))
        return s
    return t.isoformat()


def _decimals(*values: float | None) -> int:
    """Decimals that give the largest of ``values`` three significant figures (0–6)."""
    mags = [
        abs(float(v)) for v in values if isinstance(v, numbers.Real) and math.isfinite(v) and v != 0
    ]
    if not mags:
        return 2
    return int(min(6, max(0, 2 - math.floor(math.log10(max(mags))))))


def _fmt_num(x: float | None, *, decimals: int | None = None, signed: bool = False) -> str:
    """Fixed-point text with U+2212 minus; ``decimals`` default: three significant figures.

    A table row passes one ``decimals`` for baseline, latest, change and limit so that
    the four numbers line up (14.0, 13.1, −0.9, 0.8).
    """
    if x is None or not isinstance(x, numbers.Real) or not math.isfinite(x):
        return "\u2013"
    if decimals is None:
        decimals = _decimals(x)
    s = f"{float(x):,.{decimals}f}"
    if float(s.replace(",", "")) == 0:
        s = s.lstrip("-")  # no "−0.0"
    elif signed and x > 0:
        s = "+" + s
    return s.replace("-", "\u2212")


def _check_image(img: object, which: str) -> np.ndarray | None:
    if img is None:
        return None
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
        kind = img.dtype if isinstance(img, np.ndarray) else type(img).__name__
        raise ImageError(
            f"The {which} photo must be a uint8 numpy array; got {kind}. "
            "Convert with skimage.util.img_as_ubyte."
        )
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise ImageError(
            f"The {which} photo must have shape (H, W, 3) (RGB) or (H, W); got {img.shape}."
        )
    if min(img.shape[:2]) < 1:
        raise ImageError(f"The {which} photo is empty (shape {img.shape}).")
    return img


def _jpeg(img: np.ndarray, *, max_side: int = PHOTO_MAX_SIDE, quality: int = 90) -> bytes:
    """Reduce to ``max_side`` on the long side (Lanczos) and encode as EXIF-free JPEG."""
    pil = Image.fromarray(img)
    if max(pil.size) > max_side:
        pil.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    # 4:4:4 chroma: 4:2:0 would blur exactly the redness the report is about.
    pil.save(buf, format="JPEG", quality=quality, subsampling=0)
    return buf.getvalue()


def _validate_report(data: ReportData) -> tuple[np.ndarray | None, np.ndarray | None]:
    if not isinstance(data, ReportData):
        raise TypeError(f"pdf_report expects a ReportData, got {type(data).__name__}.")
    if data.skin_type is not None and data.skin_type not in _FITZPATRICK:
        raise ValueError(
            f"skin_type must be a Fitzpatrick type 1-6 or None; got {data.skin_type!r}."
        )
    if not isinstance(data.generated_at, datetime):
        raise ValueError("generated_at must be a datetime (the time the report was made).")
    for row in data.table:
        if row.better not in ("lower", "higher"):
            raise ValueError(
                f"Metric '{row.name}': better must be 'lower' or 'higher', got {row.better!r}."
            )
        if row.verdict not in VERDICTS:
            raise ValueError(
                f"Metric '{row.name}': verdict must be one of {VERDICTS}, got {row.verdict!r}."
            )
    for series in data.charts.values():
        _series_arrays(series)
    return _check_image(data.before, "before"), _check_image(data.after, "after")


class _ReportPDF(FPDF):
    """A4 portrait, DejaVu Sans, running header (page ≥ 2) and footer on every page."""

    def __init__(self, *, header_text: str, footer_text: str, drawable: frozenset[int]):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._header_text = header_text
        self._footer_text = footer_text
        self.drawable = drawable
        self.set_margins(15, 16, 15)
        self.set_auto_page_break(True, margin=18)

    def safe(self, text: object) -> str:
        """NFC-normalise and replace what no registered font can draw by U+FFFD."""
        s = unicodedata.normalize("NFC", str(text))
        out = []
        for ch in s:
            if ch == "\n" or ord(ch) in self.drawable:
                out.append(ch)
            elif unicodedata.category(ch) in ("Cc", "Cf"):
                continue
            else:
                out.append(_REPLACEMENT if ord(_REPLACEMENT) in self.drawable else "?")
        return "".join(out)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_y(7)
        self.set_font(_FAMILY, "", 8)
        self.set_text_color(110)
        text = self.safe(self._header_text)
        room = self.epw - self.get_string_width(PDF_TITLE) - 8
        while text and self.get_string_width(text + "\u2026") > room:
            text = text[:-1]
        if text != self.safe(self._header_text):
            text += "\u2026"
        self.cell(room, 4, text, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 4, PDF_TITLE, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(200)
        self.line(self.l_margin, 12, self.w - self.r_margin, 12)
        self.set_text_color(0)
        self.set_y(self.t_margin)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_draw_color(200)
        self.line(self.l_margin, self.get_y() - 1, self.w - self.r_margin, self.get_y() - 1)
        self.set_font(_FAMILY, "", 8)
        self.set_text_color(110)
        self.cell(0, 5, self.safe(self._footer_text), align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0)


def _heading(pdf: _ReportPDF, text: str, *, size: float = 13) -> None:
    pdf.set_font(_FAMILY, "B", size)
    pdf.set_text_color(20, 40, 70)
    pdf.multi_cell(0, size * 0.5, pdf.safe(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0)
    pdf.ln(1.5)


def _para(pdf: _ReportPDF, text: str, *, size: float = 9.5, style: str = "") -> None:
    pdf.set_font(_FAMILY, style, size)
    pdf.multi_cell(0, size * 0.5, pdf.safe(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _bullets(pdf: _ReportPDF, items: Sequence[str], *, size: float = 9.5) -> None:
    pdf.set_font(_FAMILY, "", size)
    for item in items:
        pdf.set_x(pdf.l_margin)
        pdf.cell(5, size * 0.5, "\u2022")
        pdf.multi_cell(
            0, size * 0.5, pdf.safe(item), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.ln(0.8)


def _key_values(pdf: _ReportPDF, rows: Sequence[tuple[str, str]]) -> None:
    for key, value in rows:
        pdf.set_x(pdf.l_margin)
        pdf.set_font(_FAMILY, "B", 10)
        pdf.set_text_color(90)
        pdf.cell(34, 5.5, key)
        pdf.set_text_color(0)
        pdf.set_font(_FAMILY, "", 10)
        pdf.multi_cell(0, 5.5, pdf.safe(value), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _cover(pdf: _ReportPDF, data: ReportData, before, after) -> None:
    pdf.add_page()
    pdf.set_font(_FAMILY, "B", 19)
    pdf.set_text_color(20, 40, 70)
    pdf.cell(0, 10, PDF_TITLE, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0)
    pdf.ln(2)

    taken = [_as_date(p.taken) for p in data.photos]
    if taken:
        span = f"{min(taken).isoformat()} to {max(taken).isoformat()}"
        photos = f"{len(taken)} photo{'s' if len(taken) != 1 else ''}, {span}"
    else:
        photos = "none"
    n = len(data.treatment_dates) or len(data.treatment_days)
    if data.treatment_dates:
        when = ", ".join(d.isoformat() for d in data.treatment_dates)
    else:
        when = "days " + ", ".join(
            _fmt_num(d, decimals=0 if float(d).is_integer() else 1) for d in data.treatment_days
        )
    treatments = f"{n} session{'s' if n != 1 else ''}" + (f": {when}" if n else "")
    skin = (
        "not recorded"
        if data.skin_type is None
        else f"Fitzpatrick type {_FITZPATRICK[data.skin_type]}"
    )
    _key_values(
        pdf,
        [
            ("Client", data.client),
            ("Treated area", data.area),
            ("Skin type", skin),
            ("Photos", photos),
            ("Treatments", treatments),
            ("Report made", _fmt_when(data.generated_at)),
        ],
    )
    pdf.ln(4)

    # The disclaimer, boxed and in bold.
    pdf.set_fill_color(255, 243, 205)
    pdf.set_draw_color(214, 160, 40)
    pdf.set_line_width(0.4)
    pdf.set_font(_FAMILY, "B", 10.5)
    pdf.multi_cell(
        0,
        5.5,
        pdf.safe(DISCLAIMER),
        border=1,
        fill=True,
        align="L",
        padding=(3, 4, 3, 4),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_line_width(0.2)
    pdf.set_fill_color(255)
    pdf.set_draw_color(0)
    pdf.ln(6)

    _heading(pdf, "Aligned photos: before and after")
    pics = [(before, data.before_label), (after, data.after_label)]
    if before is None and after is None:
        _para(pdf, "No aligned before/after pair is available for this area.")
        return
    caption_h = 10.0
    max_h = pdf.page_break_trigger - pdf.get_y() - caption_h
    if max_h < 60:
        pdf.add_page()
        max_h = pdf.page_break_trigger - pdf.get_y() - caption_h
    gap = 6.0
    box_w = (pdf.epw - gap) / 2
    y0 = pdf.get_y()
    bottom = y0
    for i, (img, _lab) in enumerate(pics):
        x_box = pdf.l_margin + i * (box_w + gap)
        if img is None:
            pdf.set_xy(x_box, y0)
            pdf.set_font(_FAMILY, "", 9)
            pdf.multi_cell(box_w, 5, "No photo.")
            bottom = max(bottom, y0 + 10)
            continue
        h_px, w_px = img.shape[:2]
        scale = min(box_w / w_px, max_h / h_px)
        w, h = w_px * scale, h_px * scale
        pdf.image(io.BytesIO(_jpeg(img)), x=x_box + (box_w - w) / 2, y=y0, w=w, h=h)
        pdf.set_draw_color(180)
        pdf.rect(x_box + (box_w - w) / 2, y0, w, h)
        bottom = max(bottom, y0 + h)
    for i, (_img, lab) in enumerate(pics):
        x_box = pdf.l_margin + i * (box_w + gap)
        pdf.set_xy(x_box, bottom + 1.5)
        pdf.set_font(_FAMILY, "B", 9.5)
        pdf.cell(box_w, 4.5, "Before" if i == 0 else "After", align="C")
        pdf.set_xy(x_box, bottom + 6)
        pdf.set_font(_FAMILY, "", 8.5)
        pdf.multi_cell(box_w, 4, pdf.safe(lab), align="C")
    pdf.set_xy(pdf.l_margin, bottom + caption_h + 2)


def _metric_table(pdf: _ReportPDF, table: Sequence[MetricRow]) -> None:
    _heading(pdf, "Measurements: baseline and latest")
    _para(
        pdf,
        "Change = latest \u2212 baseline. \u2193 lower is better, \u2191 higher is better. "
        "A change inside \u00b1 the repeatability limit is within the noise of taking the "
        "photo and is reported as \u201cno measurable change\u201d.",
        size=8.5,
    )
    pdf.ln(2)
    if not table:
        _para(pdf, "No measurements.")
        return
    head = FontFace(family=_FAMILY, emphasis="B", size_pt=8.5, fill_color=(225, 232, 242))
    pdf.set_font(_FAMILY, "", 8.5)
    pdf.set_draw_color(190)
    with pdf.table(
        col_widths=(48, 12, 19, 19, 19, 19, 44),
        cell_fill_color=(246, 247, 250),
        cell_fill_mode="ROWS",
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "CENTER"),
        headings_style=head,
        line_height=5,
        padding=(1, 1.5, 1, 1.5),
        width=pdf.epw,
    ) as t:
        hdr = t.row()
        for text in ("Measure", "Unit", "Baseline", "Latest", "Change", "Limit \u00b1", "Verdict"):
            hdr.cell(text)
        for m in table:
            arrow = "\u2193" if m.better == "lower" else "\u2191"
            colour, fill = _VERDICT_STYLE[m.verdict]
            r = t.row()
            r.cell(pdf.safe(f"{m.label} {arrow}"))
            r.cell(pdf.safe(m.unit))
            d = _decimals(m.baseline, m.latest)
            r.cell(_fmt_num(m.baseline, decimals=d))
            r.cell(_fmt_num(m.latest, decimals=d))
            r.cell(_fmt_num(m.change, decimals=d, signed=True))
            r.cell(_fmt_num(m.limit, decimals=d))
            r.cell(
                m.verdict,
                style=FontFace(family=_FAMILY, emphasis="B", color=colour, fill_color=fill),
            )
    pdf.ln(5)


def _photo_table(pdf: _ReportPDF, photos: Sequence[PhotoEntry]) -> None:
    _heading(pdf, "Photos and their quality")
    if not photos:
        _para(pdf, "No photos.")
        return
    head = FontFace(family=_FAMILY, emphasis="B", size_pt=8.5, fill_color=(225, 232, 242))
    pdf.set_font(_FAMILY, "", 8.5)
    with pdf.table(
        col_widths=(42, 22, 12, 24, 80),
        cell_fill_color=(246, 247, 250),
        cell_fill_mode="ROWS",
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "LEFT"),
        headings_style=head,
        line_height=4.6,
        padding=(1, 1.5, 1, 1.5),
        width=pdf.epw,
    ) as t:
        hdr = t.row()
        for text in ("Photo", "Date", "Day", "Confidence", "Notes"):
            hdr.cell(text)
        for p in sorted(photos, key=lambda p: (p.day, p.photo_id)):
            notes = list(p.quality_warnings)
            if p.within_7_days:
                notes.insert(0, "within 7 days after a session: shows healing redness")
            r = t.row()
            r.cell(pdf.safe(p.session_label))
            r.cell(_as_date(p.taken).isoformat())
            r.cell(_fmt_num(p.day, decimals=0 if float(p.day).is_integer() else 1))
            r.cell(_fmt_num(p.confidence, decimals=2))
            r.cell(pdf.safe("; ".join(notes) if notes else "no warnings"))
    pdf.ln(5)


def _charts(pdf: _ReportPDF, data: ReportData) -> None:
    """Two charts per page, each in a fixed half of the usable height."""
    table = {m.name: m for m in data.table}
    top = pdf.t_margin
    half = (pdf.page_break_trigger - top) / 2
    caption_h = 9.0
    img_h = half - caption_h - 4
    img_w = pdf.epw
    width_px = 1500
    height_px = round(width_px * img_h / img_w)
    for i, (name, series) in enumerate(data.charts.items()):
        if i % 2 == 0:
            pdf.add_page()
        y = top + (i % 2) * half
        if _has_points(series):
            png = chart_png(series, width_px=width_px, height_px=height_px)
            pdf.image(io.BytesIO(png), x=pdf.l_margin, y=y, w=img_w, h=img_h)
        else:
            pdf.set_xy(pdf.l_margin, y)
            _heading(pdf, series.label, size=11)
            _para(pdf, "No values could be measured for this measure.")
        pdf.set_xy(pdf.l_margin, y + img_h + 1)
        m = table.get(name)
        if m is not None:
            pdf.set_font(_FAMILY, "", 8.5)
            pdf.set_text_color(60)
            d = _decimals(m.baseline, m.latest)
            unit = f" {m.unit}" if m.unit else ""
            text = (
                f"{m.label}: baseline {_fmt_num(m.baseline, decimals=d)}, "
                f"latest {_fmt_num(m.latest, decimals=d)}, "
                f"change {_fmt_num(m.change, decimals=d, signed=True)}{unit} "
                f"(repeatability limit \u00b1{_fmt_num(m.limit, decimals=d)}): {m.verdict}."
            )
            pdf.multi_cell(0, 4.2, pdf.safe(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_text_color(0)
    if data.charts:
        n = len(data.charts)
        # Continue in the free lower half of the last chart page, if there is one.
        y = top + half if n % 2 == 1 else pdf.page_break_trigger
        pdf.set_xy(pdf.l_margin, y)


def pdf_report(data: ReportData, *, fallback_fonts: Sequence[str | os.PathLike] = ()) -> bytes:
    """Build the PDF progress report.

    Parameters
    ----------
    data : ReportData
        Everything to show.
    fallback_fonts : sequence of path-like, optional
        Extra TrueType/OpenType files (e.g. a Noto CJK font) used for characters that
        DejaVu Sans cannot draw. Characters that no font can draw are printed as
        U+FFFD (�).

    Returns
    -------
    bytes
        The PDF (A4 portrait).

    Raises
    ------
    TypeError
        If ``data`` is not a :class:`ReportData`.
    ValueError
        If a table row has an unknown ``better``/``verdict``, ``skin_type`` is not 1–6,
        or a chart series is malformed.
    progress.errors.ImageError
        If the before/after photo is not a uint8 (H, W, 3) or (H, W) array.

    Notes
    -----
    Layout: page 1 has the title, client, area, skin type, photo dates, treatments, the
    boxed "This report is not a diagnosis" paragraph and the aligned before/after photos
    side by side (reduced to at most 1200 px on the long side, embedded as 4:4:4 JPEG,
    quality 90, without EXIF). Page 2 starts the metric table (better direction marked
    ↓/↑, verdict coloured), the photo list with quality warnings, and the flags of the
    timeline assessment. Charts follow, two per page, then the method notes. Every page
    has a footer with the generation time and "Page n of N".

    Privacy: the document metadata carry a generic title (:data:`PDF_TITLE`), creator
    "progress" and no author, so file managers and search indexes do not show the
    client's name; the name appears only in the page content.

    Fonts: DejaVu Sans from matplotlib's data directory is embedded (subset), so any
    Latin, Greek or Cyrillic name and the arrows print correctly. Nothing is written to
    disk and no network access happens; every call makes its own ``FPDF`` object.
    """
    before, after = _validate_report(data)
    fallback_paths = [str(Path(f)) for f in fallback_fonts]
    for f in fallback_paths:
        if not Path(f).is_file():
            raise ValueError(f"Fallback font file {f!r} does not exist.")

    drawable = frozenset().union(_cmap(str(_FONT_FILES[""])), *(_cmap(f) for f in fallback_paths))
    pdf = _ReportPDF(
        header_text=f"{data.client} \u00b7 {data.area}",
        footer_text=f"Generated {_fmt_when(data.generated_at)} \u00b7 not a diagnosis",
        drawable=drawable,
    )
    for style, path in _FONT_FILES.items():
        pdf.add_font(_FAMILY, style, str(path))
    names = []
    for i, f in enumerate(fallback_paths):
        name = f"fallback{i}"
        pdf.add_font(name, "", f)
        names.append(name)
    if names:
        pdf.set_fallback_fonts(names, exact_match=False)

    pdf.set_title(PDF_TITLE)
    pdf.set_creator("progress")
    pdf.set_lang("en")
    gen = data.generated_at
    pdf.set_creation_date(gen if gen.tzinfo is not None else gen.astimezone())

    _cover(pdf, data, before, after)
    pdf.add_page()
    _metric_table(pdf, data.table)
    _photo_table(pdf, data.photos)
    _heading(pdf, "Points to note")
    if data.flags:
        _bullets(pdf, data.flags)
    else:
        _para(pdf, "None from the timeline assessment.")
    _charts(pdf, data)
    if data.method_notes:
        if pdf.get_y() > pdf.page_break_trigger - 30:
            pdf.add_page()
        pdf.ln(2)
        _heading(pdf, "How the measurements were made")
        _bullets(pdf, data.method_notes, size=8.5)
    return bytes(pdf.output())


# ---------------------------------------------------------------------------------------
# Rows, CSV, JSON
# ---------------------------------------------------------------------------------------


def build_report_rows(
    photos: Sequence[PhotoEntry], *, metric_names: Sequence[str] | None = None
) -> list[dict[str, object]]:
    """One flat row per photo: the :data:`PHOTO_COLUMNS`, then one column per metric.

    Parameters
    ----------
    photos : sequence of PhotoEntry
    metric_names : sequence of str, optional
        Metric columns in this order (registry order). By default, every metric name
        found in the photos, in order of first appearance. A photo without a value for a
        metric gets NaN.

    Returns
    -------
    list of dict
        Keys: ``photo_id, session, taken, day, within_7_days, confidence,
        quality_warnings`` (a list of str), then the metrics.
    """
    if metric_names is None:
        seen: dict[str, None] = {}
        for p in photos:
            seen.update(dict.fromkeys(p.values))
        metric_names = list(seen)
    clash = set(metric_names) & set(PHOTO_COLUMNS)
    if clash:
        raise ValueError(f"Metric names {sorted(clash)} clash with the photo columns.")
    rows = []
    for p in photos:
        row: dict[str, object] = {
            "photo_id": p.photo_id,
            "session": p.session_label,
            "taken": p.taken,
            "day": p.day,
            "within_7_days": bool(p.within_7_days),
            "confidence": p.confidence,
            "quality_warnings": list(p.quality_warnings),
        }
        for name in metric_names:
            row[name] = p.values.get(name, math.nan)
        rows.append(row)
    return rows


def report_meta(data: ReportData) -> dict[str, object]:
    """The non-photo part of a report, for the ``meta`` block of :func:`metrics_json`."""
    return {
        "client": data.client,
        "area": data.area,
        "skin_type": data.skin_type,
        "treatment_dates": list(data.treatment_dates),
        "treatment_days": list(data.treatment_days),
        "table": [
            {
                "name": m.name,
                "label": m.label,
                "unit": m.unit,
                "better": m.better,
                "baseline": m.baseline,
                "latest": m.latest,
                "change": m.change,
                "limit": m.limit,
                "verdict": m.verdict,
            }
            for m in data.table
        ],
        "flags": list(data.flags),
        "method_notes": list(data.method_notes),
        "generated_at": data.generated_at,
    }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(s: str) -> str:
    # OWASP "CSV injection": a text cell starting with one of these characters is run as
    # a formula by spreadsheet programs; a leading apostrophe makes it plain text.
    return "'" + s if s.startswith(_FORMULA_START) else s


def _csv_cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        f = float(v)
        return repr(f) if math.isfinite(f) else ""
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, str):
        return _csv_text(v)
    if isinstance(v, (Sequence, np.ndarray)) and not isinstance(v, (bytes, bytearray)):
        return _csv_text("; ".join(str(x) for x in v))
    return _csv_text(str(v))


def _columns(rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None) -> list[str]:
    order: dict[str, None] = dict.fromkeys(columns or ())
    for row in rows:
        for key in row:
            if not isinstance(key, str):
                raise TypeError(f"Row keys must be str; got {key!r}.")
            order.setdefault(key, None)
    return list(order)


def metrics_csv(
    rows: Sequence[Mapping[str, object]],
    *,
    columns: Sequence[str] | None = None,
    bom: bool = True,
    delimiter: str = ",",
) -> bytes:
    """Every metric of every photo as CSV (one row per photo).

    Parameters
    ----------
    rows : sequence of mappings
        E.g. from :func:`build_report_rows`.
    columns : sequence of str, optional
        Columns to put first, in this order. The header is ``columns`` followed by every
        other key of the rows in order of first appearance (so rows from
        :func:`build_report_rows` keep meta columns first and metrics in registry order).
    bom : bool, optional
        Start with a UTF-8 byte order mark (default). Excel on Windows reads a CSV
        without BOM in the legacy code page and garbles names such as "Zoë"; Python
        (``encoding="utf-8-sig"``), pandas and LibreOffice accept the BOM.
    delimiter : str, optional
        ``","`` by default; ``";"`` suits spreadsheets in locales with a decimal comma.

    Returns
    -------
    bytes
        UTF-8 text with CRLF line ends (RFC 4180).

    Notes
    -----
    Cells: floats as ``repr`` (shortest text that reads back to the same double);
    NaN, ±inf and None as an empty cell; bools as ``true``/``false``; dates ISO 8601;
    lists joined with ``"; "``. Text cells (never numbers) that begin with ``= + - @``,
    tab or carriage return get a leading apostrophe so that a spreadsheet does not run
    them as a formula (OWASP, "CSV Injection").

    References
    ----------
    Shafranovich Y. RFC 4180: Common Format and MIME Type for CSV Files. IETF, 2005.
    """
    if len(delimiter) != 1 or delimiter in "\"'\r\n":
        raise ValueError(f"delimiter must be one character such as ',' or ';'; got {delimiter!r}.")
    header = _columns(rows, columns)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([_csv_text(h) for h in header])
    for row in rows:
        writer.writerow([_csv_cell(row.get(h)) for h in header])
    text = buf.getvalue()
    return text.encode("utf-8-sig" if bom else "utf-8")


def _jsonable(v: object, where: str) -> object:
    if v is None or isinstance(v, (str, bool)):
        return v
    if isinstance(v, np.generic):
        return _jsonable(v.item(), where)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, PurePath):
        return str(v)
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x, f"{where}.{k}") for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return [_jsonable(x, where) for x in v.tolist()]
    if isinstance(v, (Sequence, set, frozenset)) and not isinstance(v, (bytes, bytearray)):
        return [_jsonable(x, where) for x in v]
    raise TypeError(
        f"{where}: cannot write a {type(v).__name__} to JSON; convert it to str, a number, "
        "a date, a list or a dict first."
    )


def metrics_json(rows: Sequence[Mapping[str, object]], *, meta: Mapping[str, object]) -> bytes:
    """Every metric of every photo as JSON: ``{"meta": ..., "photos": [...]}``.

    Parameters
    ----------
    rows : sequence of mappings
        E.g. from :func:`build_report_rows`; key order is kept.
    meta : mapping
        Report-level data, e.g. from :func:`report_meta`.

    Returns
    -------
    bytes
        Strict JSON (RFC 8259), UTF-8, indented by 2 spaces.

    Raises
    ------
    TypeError
        If a value is of a type with no JSON form.

    Notes
    -----
    NaN and ±inf become ``null`` (JSON has no such numbers), dates and datetimes become
    ISO 8601 strings, numpy scalars and arrays become numbers and lists. Floats keep
    full precision (shortest round-trip form).
    """
    doc = {
        "meta": _jsonable(meta, "meta"),
        "photos": [_jsonable(r, f"photos[{i}]") for i, r in enumerate(rows)],
    }
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, indent=2).encode("utf-8")


# ---------------------------------------------------------------------------------------
# ZIP
# ---------------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^\w\-. ()+,]")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])$", re.IGNORECASE)
_IMAGE_EXT = re.compile(r"\.(png|jpe?g|tiff?|bmp|webp|heic|heif)$", re.IGNORECASE)


def _safe_name(name: str, ext: str) -> str:
    """A plain file name: last path part, no unsafe characters, the given extension."""
    s = unicodedata.normalize("NFC", str(name))
    parts = [p for p in re.split(r"[\\/]", s) if p not in ("", ".", "..")]
    s = parts[-1] if parts else ""
    s = re.sub(r"^[A-Za-z]:", "", s)  # a bare drive letter "C:"
    s = "".join(ch for ch in s if unicodedata.category(ch)[0] != "C")
    s = _UNSAFE.sub("_", s)
    s = _IMAGE_EXT.sub("", s)
    s = s.strip(" .")
    if _RESERVED.match(s.split(".")[0] if s else ""):
        s = "_" + s
    s = s[:100].strip(" .") or "image"
    return s + ext


def aligned_zip(
    images: Sequence[tuple[str, np.ndarray]],
    *,
    fmt: str = "png",
    jpeg_quality: int = 95,
    date_time: datetime | None = None,
) -> bytes:
    """Pack aligned photos into a ZIP archive, one image file per photo.

    Parameters
    ----------
    images : sequence of (name, array)
        uint8 arrays of shape (H, W) or (H, W, 3) (PNG also takes (H, W, 4)).
    fmt : {"png", "jpeg"}, optional
        PNG (lossless, default) or JPEG (4:4:4, ``jpeg_quality``; smaller files).
    jpeg_quality : int, optional
        1–100, used only for JPEG.
    date_time : datetime, optional
        Time stamp of the entries (default: now). Pass a fixed value for byte-identical
        archives.

    Returns
    -------
    bytes
        The ZIP archive (entries stored uncompressed: PNG and JPEG are compressed
        already).

    Raises
    ------
    ValueError
        If there are no images or ``fmt``/``jpeg_quality`` is invalid.
    progress.errors.ImageError
        If an array is not a uint8 image.

    Notes
    -----
    Names are made safe to extract anywhere: only the last path component is kept
    (``"../../etc/x"`` → ``"x.png"``), control and reserved characters become ``_``,
    leading dots and Windows device names are defused, an image extension in the name is
    replaced by the real one, and duplicates (compared case-insensitively) get ``_2``,
    ``_3``, ... The images carry no EXIF or other metadata.
    """
    fmt = fmt.lower()
    if fmt not in ("png", "jpeg", "jpg"):
        raise ValueError(f"fmt must be 'png' or 'jpeg'; got {fmt!r}.")
    if not 1 <= int(jpeg_quality) <= 100:
        raise ValueError(f"jpeg_quality must be from 1 to 100; got {jpeg_quality!r}.")
    if len(images) == 0:
        raise ValueError("No images to pack; give at least one (name, array) pair.")
    ext = ".png" if fmt == "png" else ".jpg"
    when = (date_time or datetime.now()).timetuple()[:6]
    when = (max(1980, when[0]),) + tuple(when[1:])

    used: set[str] = set()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, img in images:
            if (
                not isinstance(img, np.ndarray)
                or img.dtype != np.uint8
                or not (
                    img.ndim == 2
                    or (img.ndim == 3 and img.shape[2] in ((3, 4) if ext == ".png" else (3,)))
                )
            ):
                desc = (
                    f"{img.dtype} array of shape {img.shape}"
                    if isinstance(img, np.ndarray)
                    else type(img).__name__
                )
                raise ImageError(
                    f"Image {name!r} must be a uint8 array of shape (H, W) or (H, W, 3); "
                    f"got {desc}."
                )
            base = _safe_name(name, ext)
            stem = base[: -len(ext)]
            candidate, k = base, 1
            while candidate.lower() in used:
                k += 1
                candidate = f"{stem}_{k}{ext}"
            used.add(candidate.lower())

            out = io.BytesIO()
            pil = Image.fromarray(np.ascontiguousarray(img))
            if ext == ".png":
                pil.save(out, format="PNG", compress_level=6)
            else:
                pil.save(out, format="JPEG", quality=int(jpeg_quality), subsampling=0)
            info = zipfile.ZipInfo(candidate, date_time=when)
            info.external_attr = 0o644 << 16
            zf.writestr(info, out.getvalue())
    return buf.getvalue()
