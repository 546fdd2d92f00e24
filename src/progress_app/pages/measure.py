"""Measure: the region of interest and the table of every metric with its change."""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_image_coordinates import streamlit_image_coordinates

from progress import workflow
from progress.loader import downscale, to_jpeg_bytes
from progress.pipeline import roi_mask
from progress_app import state
from progress_app.pages.common import analyse_with_progress, need_area

ARROW = {"lower": "↓", "higher": "↑"}


VIEW_WIDTH = 640


@st.cache_data(max_entries=32, show_spinner=False)
def _roi_view(
    _store, ref_id: int, sha: str, full_width: int, box: tuple[int, int, int, int] | None
) -> np.ndarray:
    """The reference preview with the measured region tinted, VIEW_WIDTH px wide."""
    prev = state.preview_rgb(_store, ref_id, sha)
    f = prev.shape[1] / full_width
    mask = roi_mask(prev, box=None if box is None else tuple(v * f for v in box))
    return downscale(_tint(prev, mask), long_side=VIEW_WIDTH * max(prev.shape[:2]) // prev.shape[1])


def _roi(s, area_id: int) -> None:
    ref_id = workflow.reference_id(s, area_id)
    rec = s.photo(ref_id)
    box = workflow.area_box(s, area_id)
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
            to_jpeg_bytes(_roi_view(s, ref_id, rec.sha256, rec.width, None), quality=88),
            caption="Measured region (tinted): the skin found automatically on the reference photo, applied to every session.",
            width=VIEW_WIDTH,
        )
        return
    st.caption(
        "Drag a rectangle on the reference photo; it is applied to every session of this area."
    )
    shown = _roi_view(s, ref_id, rec.sha256, rec.width, box)
    v = streamlit_image_coordinates(
        shown,
        width=VIEW_WIDTH,
        click_and_drag=True,
        key=f"box_{area_id}",
        image_format="JPEG",
        jpeg_quality=88,
    )
    if v and v.get("x1") is not None and v["x1"] != v["x2"] and v["y1"] != v["y2"]:
        k = rec.width / v["width"]
        new = (
            min(v["x1"], v["x2"]) * k,
            min(v["y1"], v["y2"]) * k,
            max(v["x1"], v["x2"]) * k,
            max(v["y1"], v["y2"]) * k,
        )
        new = tuple(int(round(c)) for c in new)
        if new != box:
            workflow.set_area_box(s, area_id, new)
            st.rerun()
    if box is not None:
        st.caption(f"Box: x {box[0]}–{box[2]}, y {box[1]}–{box[3]} (reference pixels).")


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
    analyse_with_progress(s, area_id)
    photos = workflow.area_photos(s, area_id)
    limits, source = workflow.limits_for(s, area_id)
    rows = workflow.metric_table(photos, limits)
    if not rows:
        st.info("No measured photo outside the 7 days after a session yet.")
        return
    usable = workflow.comparable(photos)
    st.markdown(
        f"Baseline: **{usable[0].session.on_date}** · latest comparable photo: **{usable[-1].session.on_date}** "
        f"(photos taken within 7 days after a session show inflammation and are left out of this table)."
    )
    st.dataframe(
        [
            {
                "metric": r.label,
                "kind": r.kind,
                "unit": r.unit or "—",
                "better": ARROW[r.better] + " " + r.better,
                "baseline": _fmt(r.baseline, r.unit),
                "latest": _fmt(r.latest, r.unit),
                "change": "—" if not np.isfinite(r.change) else f"{r.change:+.3g}",
                "change %": "—" if not np.isfinite(r.change_pct) else f"{r.change_pct:+.1f} %",
                "smallest real change": _fmt(r.limit, r.unit),
                "verdict": r.verdict,
            }
            for r in rows
        ],
        hide_index=True,
        width="stretch",
        height=35 * (len(rows) + 1) + 3,
        column_config={
            "metric": st.column_config.TextColumn(width="large"),
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
