"""Measure: region of interest, grey card and scale, and the table of every metric."""

from __future__ import annotations

import math

import cv2
import numpy as np
import streamlit as st
from streamlit_image_coordinates import streamlit_image_coordinates

from progress import colour, workflow
from progress.errors import ProgressError
from progress.grid import ANALYSIS_PX_PER_MM, NOMINAL_FIELD_MM
from progress.loader import downscale, to_jpeg_bytes
from progress.pipeline import roi_mask
from progress_app import state
from progress_app.pages.common import analyse_with_progress, need_area

ARROW = {"lower": "↓", "higher": "↑"}


VIEW_WIDTH = 640
CARD_CHROMA_WARN = 12.0  # C*ab of the marked card on the reference above this: not grey?
MAX_GRID_MEGAPIXELS = 40.0  # refuse a scale that would blow the analysis grid up beyond this
CARD_COLOUR = (255, 200, 0)
RULER_COLOUR = (0, 230, 255)


@st.cache_data(max_entries=32, show_spinner=False)
def _roi_view(
    _store,
    ref_id: int,
    sha: str,
    full_width: int,
    box: tuple[int, int, int, int] | None,
    card: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """The reference preview with the measured region tinted (the card left out, as the
    analysis leaves it out), VIEW_WIDTH px wide."""
    prev = state.preview_rgb(_store, ref_id, sha)
    f = prev.shape[1] / full_width
    mask = roi_mask(prev, box=None if box is None else tuple(v * f for v in box))
    if card is not None:
        mask &= ~roi_mask(prev, box=tuple(v * f for v in card))
    return downscale(_tint(prev, mask), long_side=VIEW_WIDTH * max(prev.shape[:2]) // prev.shape[1])


@st.cache_data(max_entries=32, show_spinner=False)
def _marked_view(
    _store,
    ref_id: int,
    sha: str,
    full_width: int,
    width: int,
    card: tuple[int, int, int, int] | None = None,
    points: tuple[tuple[float, float], ...] = (),
) -> np.ndarray:
    """The reference preview ``width`` px wide, with the card box and ruler points drawn."""
    prev = state.preview_rgb(_store, ref_id, sha)
    img = downscale(prev, long_side=max(1, width * max(prev.shape[:2]) // prev.shape[1])).copy()
    f = img.shape[1] / full_width
    if card is not None:
        x0, y0, x1, y1 = (int(round(v * f)) for v in card)
        cv2.rectangle(img, (x0, y0), (x1, y1), CARD_COLOUR, 2)
    pts = [(int(round(x * f)), int(round(y * f))) for x, y in points]
    if len(pts) == 2:
        cv2.line(img, pts[0], pts[1], RULER_COLOUR, 2)
    for c in pts:
        cv2.circle(img, c, 6, RULER_COLOUR, 2)
    return img


@st.cache_data(max_entries=32, show_spinner=False)
def _card_lab(_store, ref_id: int, sha: str, full_width: int, card: tuple) -> tuple:
    """Mean (L*, a*, b*) of the card box on the reference preview."""
    prev = state.preview_rgb(_store, ref_id, sha)
    f = prev.shape[1] / full_width
    m = roi_mask(prev, box=tuple(v * f for v in card))
    if not m.any():
        return (float("nan"),) * 3
    return tuple(float(v) for v in colour.srgb_to_lab(prev[m]).mean(axis=0))


def _signed(v: float) -> str:
    """``+1.2`` / ``-1.2``, and ``0.0`` rather than ``-0.0``."""
    return "0.0" if round(v, 1) == 0 else f"{v:+.1f}"


def _fresh(key: str, value: dict | None) -> dict | None:
    """The component's value if it is a new event (a component repeats its last value
    on every rerun, so an event is used once)."""
    if not value:
        return None
    stamp = value.get("unix_time") or tuple(sorted(value.items()))
    if st.session_state.get(key) == stamp:
        return None
    st.session_state[key] = stamp
    return value


def _dragged_box(v: dict | None, rec) -> tuple[float, float, float, float] | None:
    """The rectangle dragged on the shown reference, in the reference photo's pixels
    (clipped to the photo), or None when nothing with an area was dragged."""
    if not v or v.get("x1") is None or v["x1"] == v["x2"] or v["y1"] == v["y2"]:
        return None
    k = rec.width / v["width"]
    return (
        max(0.0, min(v["x1"], v["x2"]) * k),
        max(0.0, min(v["y1"], v["y2"]) * k),
        min(float(rec.width), max(v["x1"], v["x2"]) * k),
        min(float(rec.height), max(v["y1"], v["y2"]) * k),
    )


def _roi(s, area_id: int) -> None:
    ref_id = workflow.reference_id(s, area_id)
    rec = s.photo(ref_id)
    box = workflow.area_box(s, area_id)
    card = workflow.area_card(s, area_id)
    choice = st.radio(
        "Region of interest",
        ["Automatic skin mask", "A box I draw"],
        index=0 if box is None else 1,
        horizontal=True,
    )
    if choice == "Automatic skin mask":
        if box is not None:
            workflow.set_area_box(s, area_id, None)
            st.rerun()
        st.image(
            to_jpeg_bytes(_roi_view(s, ref_id, rec.sha256, rec.width, None, card), quality=88),
            caption="Measured region (tinted): the skin found automatically on the reference photo, applied to every session.",
            width=VIEW_WIDTH,
        )
        return
    st.caption(
        "Drag a rectangle on the reference photo; it is applied to every session of this area."
    )
    shown = _roi_view(s, ref_id, rec.sha256, rec.width, box, card)
    v = streamlit_image_coordinates(
        shown,
        width=VIEW_WIDTH,
        click_and_drag=True,
        key=f"box_{area_id}",
        image_format="JPEG",
        jpeg_quality=88,
    )
    dragged = _dragged_box(v, rec)
    if dragged is not None:
        new = tuple(int(round(c)) for c in dragged)
        if new != box:
            workflow.set_area_box(s, area_id, new)
            st.rerun()
    if box is not None:
        st.caption(f"Box: x {box[0]}–{box[2]}, y {box[1]}–{box[3]} (reference pixels).")


def _card(s, area_id: int) -> None:
    """Grey card: a box the user drags over a grey or white card on the reference."""
    ref_id = workflow.reference_id(s, area_id)
    rec = s.photo(ref_id)
    card = workflow.area_card(s, area_id)
    if card is None:
        st.warning(
            "No grey card marked: colour and tone (L*, a*, b*, ITA°, erythema and melanin indices) "
            "are compared uncorrected, so a change of light or white balance between sessions "
            "looks like a change of the skin.",
            icon=":material/palette:",
        )
    else:
        lab = _card_lab(s, ref_id, rec.sha256, rec.width, card)
        st.caption(
            f"Grey card: x {card[0]}–{card[2]}, y {card[1]}–{card[3]} (reference pixels); on the "
            f"reference L* {lab[0]:.0f}, a* {_signed(lab[1])}, b* {_signed(lab[2])}. Every photo's colours "
            "are corrected on it."
        )
        if math.hypot(lab[1], lab[2]) > CARD_CHROMA_WARN:
            st.warning(
                f"The marked box is coloured (a* {_signed(lab[1])}, b* {_signed(lab[2])}): if it is not a "
                "grey or white card, every photo would be tinted to make it grey and tone values "
                "would be wrong. Mark the card itself, inside its edges."
            )
    with st.expander("Grey card (colour reference)", expanded=card is None):
        st.caption(
            "Drag a rectangle over a grey (or white) card on the reference photo, inside its "
            "edges. Every photo of this area is aligned to the reference, the card is read at the "
            "same place, and the photo's colours are corrected so that the card is neutral grey "
            "and as light as on the reference (white balance and exposure). The card must stay at "
            "the same place next to the skin in every photo (e.g. a sticker); it is left out of "
            "the measured region."
        )
        v = streamlit_image_coordinates(
            _marked_view(s, ref_id, rec.sha256, rec.width, VIEW_WIDTH, card),
            width=VIEW_WIDTH,
            click_and_drag=True,
            key=f"card_{area_id}",
            image_format="JPEG",
            jpeg_quality=88,
            cursor="crosshair",
        )
        v = _fresh(f"card_seen_{area_id}", v)
        new = _dragged_box(v, rec)
        if new is not None:
            try:
                workflow.set_area_card(s, area_id, new)
            except ProgressError as exc:
                st.error(str(exc))
            else:
                st.rerun()
        if st.button("Clear grey card", key=f"card_clear_{area_id}", disabled=card is None):
            workflow.set_area_card(s, area_id, None)
            st.rerun()


def _grid_megapixels(width: int, height: int, px_per_mm: float) -> float:
    """Size of the analysis grid of the whole reference frame at this scale."""
    f = ANALYSIS_PX_PER_MM / px_per_mm
    return width * height * f * f / 1e6


def _set_scale(s, area_id: int, rec, value: float | None) -> bool:
    """Store a scale (None clears it); refuse one that would make the grid huge."""
    if value is not None and _grid_megapixels(rec.width, rec.height, value) > MAX_GRID_MEGAPIXELS:
        st.error(
            f"At {value:g} px/mm the reference photo would span "
            f"{rec.width / value:.0f} × {rec.height / value:.0f} mm and be measured on a "
            f"{_grid_megapixels(rec.width, rec.height, value):.0f}-megapixel grid: check the "
            "scale (a close-up of skin usually has 10–40 px/mm)."
        )
        return False
    workflow.set_area_scale(s, area_id, value)
    return True


def _scale(s, area_id: int) -> None:
    """Scale: pixels per millimetre, typed in or measured on a ruler in the photo."""
    ref_id = workflow.reference_id(s, area_id)
    rec = s.photo(ref_id)
    current = workflow.area_scale(s, area_id)
    if current:
        st.caption(
            f"Scale: {current:g} px/mm, so the reference photo spans {rec.width / current:.0f} × "
            f"{rec.height / current:.0f} mm. Every photo is measured on a {ANALYSIS_PX_PER_MM:g} "
            "px/mm grid: lengths, areas and pore densities are in true millimetres and square "
            "centimetres."
        )
    else:
        st.caption(
            f"Scale unknown: each photo is taken to span {NOMINAL_FIELD_MM:g} mm on its long side "
            "(nominal millimetres). Values compare between this area's photos, but pore density "
            "per cm² and other lengths are not true sizes."
        )
    with st.expander("Scale (pixels per millimetre)"):
        value = st.number_input(
            "Pixels per millimetre on the reference photo (0 = unknown)",
            min_value=0.0,
            max_value=1000.0,
            value=float(current or 0.0),
            step=0.5,
            format="%.2f",
            key=f"scale_{area_id}_{current}",
        )
        if value != float(current or 0.0) and _set_scale(s, area_id, rec, value or None):
            st.rerun()
        if st.toggle("Measure it on a ruler in the photo", key=f"ruler_on_{area_id}"):
            _ruler(s, area_id, rec)


def _ruler(s, area_id: int, rec) -> None:
    """Two clicks on a ruler and the distance between them give the scale."""
    key = f"ruler_{area_id}"
    pts = st.session_state.setdefault(key, [])
    st.caption(
        "Click two marks of a ruler (or of anything of known length) on the reference photo, as "
        "far apart as you can, then give their distance."
    )
    v = streamlit_image_coordinates(
        _marked_view(s, rec.id, rec.sha256, rec.width, VIEW_WIDTH, None, tuple(pts)),
        width=VIEW_WIDTH,
        key=f"ruler_img_{area_id}",
        image_format="JPEG",
        jpeg_quality=88,
        cursor="crosshair",
    )
    v = _fresh(f"ruler_seen_{area_id}", v)
    if v and v.get("x") is not None:
        k = rec.width / v["width"]
        point = (v["x"] * k, v["y"] * k)
        pts[:] = [*pts, point] if len(pts) < 2 else [point]
        st.rerun()
    mm = st.number_input(
        "Distance between the two points (mm)",
        min_value=0.1,
        max_value=1000.0,
        value=10.0,
        step=1.0,
        key=f"ruler_mm_{area_id}",
    )
    found = None
    if len(pts) == 2 and pts[0] != pts[1]:
        px = math.hypot(pts[1][0] - pts[0][0], pts[1][1] - pts[0][1])
        found = workflow.scale_from_points(pts[0], pts[1], mm)
        # A click lands to one screen pixel, i.e. rec.width / VIEW_WIDTH photo pixels.
        err = 100 * math.sqrt(2) * (rec.width / VIEW_WIDTH) / px
        st.caption(
            f"{px:.0f} px over {mm:g} mm = **{found:.2f} px/mm** (each click is placed to one "
            f"screen pixel: about ±{err:.1f} %)."
        )
    else:
        st.caption(f"{len(pts)} of 2 points clicked.")
    b1, b2 = st.columns(2)
    label = f"Use {found:.2f} px/mm" if found else "Use this scale"
    if b1.button(label, key=f"ruler_use_{area_id}", disabled=found is None, type="primary"):
        if _set_scale(s, area_id, rec, round(found, 3)):
            st.session_state.pop(key, None)
            st.rerun()
    if b2.button("Clear points", key=f"ruler_clear_{area_id}", disabled=not pts):
        st.session_state.pop(key, None)
        st.rerun()


def _colour_not_normalised(photos) -> list[str]:
    """Photos measured with a card set whose colour could not be normalised, and why."""
    out = []
    for p in photos:
        c = (p.result or {}).get("colour") or {}
        if p.result and c.get("method") == "none":
            out.append(f"{p.session.on_date} · {p.record.display_name}: {c.get('reason', '')}")
    return out


def _tint(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = img.copy()
    out[mask] = (img[mask] * 0.65 + np.array([40, 160, 255]) * 0.35).astype(np.uint8)
    return out


def _fmt(v: float, unit: str) -> str:
    return "—" if not np.isfinite(v) else f"{v:.4g}"


def render() -> None:
    s = state.store()
    st.title("Measure")
    area_id = need_area(s)
    if area_id is None:
        return
    if workflow.reference_id(s, area_id) is None:
        st.info("Upload photos first.")
        return
    _roi(s, area_id)
    st.subheader("Colour reference and scale")
    _card(s, area_id)
    _scale(s, area_id)
    analyse_with_progress(s, area_id)
    photos = workflow.area_photos(s, area_id)
    if workflow.area_card(s, area_id) is not None:
        missed = _colour_not_normalised(photos)
        if missed:
            st.warning(
                f"The grey card could not be read on {len(missed)} photo(s); their colours are "
                "not corrected:\n\n" + "\n".join(f"- {m}" for m in missed)
            )
    limits, source = workflow.limits_for(s, area_id)
    rows = workflow.metric_table(photos, limits)
    if not rows:
        st.info("No measured photo outside the 7 days after a session yet.")
        return
    usable = workflow.comparable(photos)
    st.subheader("Measurements")
    st.markdown(
        f"Baseline: **{usable[0].session.on_date}** · latest comparable photo: **{usable[-1].session.on_date}** "
        f"(photos taken within 7 days after a session show inflammation and are left out of this table)."
    )
    st.dataframe(
        [
            {
                # The verdict first after the numbers it rests on, so that it is visible
                # without scrolling the table sideways.
                "metric": r.label,
                "better": ARROW[r.better] + " " + r.better,
                "baseline": _fmt(r.baseline, r.unit),
                "latest": _fmt(r.latest, r.unit),
                "change": "—" if not np.isfinite(r.change) else f"{r.change:+.3g}",
                "change %": "—" if not np.isfinite(r.change_pct) else f"{r.change_pct:+.1f} %",
                "smallest real change": _fmt(r.limit, r.unit),
                "verdict": r.verdict,
                "unit": r.unit or "—",
                "kind": r.kind,
            }
            for r in rows
        ],
        hide_index=True,
        width="stretch",
        height=35 * (len(rows) + 1) + 3,
        column_config={
            "metric": st.column_config.TextColumn(width="medium"),
            "verdict": st.column_config.TextColumn(width="medium"),
        },
    )
    st.caption(
        source
        + " A change inside the smallest real change (the 95 % repeatability limit) is reported as "
        "“no measurable change”. Erythema and melanin indices compare only between photos taken with the same "
        "camera and light."
    )
    with st.expander("All photos"):
        st.dataframe(
            [
                {
                    "date": p.session.on_date.isoformat(),
                    "day": p.day,
                    "photo": p.record.display_name,
                    "≤7 d after session": p.within_7_days,
                    **{k: round(v, 4) for k, v in p.metrics.items()},
                }
                for p in photos
                if p.result
            ],
            hide_index=True,
            width="stretch",
        )


if __name__ == "__main__":
    render()
