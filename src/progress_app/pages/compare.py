"""Compare two sessions: aligned side by side, overlay slider, blink and a change map."""

from __future__ import annotations

import io

import numpy as np
import streamlit as st
from PIL import Image

from progress import workflow
from progress.change import KINDS, change_map, overlay_rgba
from progress.loader import to_jpeg_bytes
from progress_app import state
from progress_app.pages.common import analyse_with_progress, need_area, photo_label
from progress_app.viewer import compare_html

VIEW_LONG_SIDE = 1200


def _aligned(s, p, ref) -> tuple[np.ndarray, np.ndarray]:
    if p.record.id == ref.record.id or not p.result or not p.result.get("alignment"):
        img = state.preview_rgb(s, p.record.id, p.record.sha256)
        return img, np.ones(img.shape[:2], bool)
    m = tuple(np.ravel(p.result["alignment"]["matrix"]))
    return state.aligned_preview(
        s, p.record.id, p.record.sha256, ref.record.id, ref.record.sha256, m
    )


def render() -> None:
    s = state.store()
    st.title("Compare")
    area_id = need_area(s)
    if area_id is None:
        return
    if workflow.reference_id(s, area_id) is None:
        st.info("Upload photos first.")
        return
    analyse_with_progress(s, area_id)
    photos = [p for p in workflow.area_photos(s, area_id) if p.result]
    if len(photos) < 2:
        st.info("Two measured photos are needed to compare.")
        return
    ids = [p.record.id for p in photos]
    label = {p.record.id: photo_label(p) for p in photos}
    c1, c2 = st.columns(2)
    a_id = c1.selectbox("Before", ids, index=0, format_func=label.get)
    b_id = c2.selectbox("After", ids, index=len(ids) - 1, format_func=label.get)
    ref_id = workflow.reference_id(s, area_id)
    ref = next(p for p in photos if p.record.id == ref_id) if ref_id in ids else photos[0]
    pa = next(p for p in photos if p.record.id == a_id)
    pb = next(p for p in photos if p.record.id == b_id)
    img_a, valid_a = _aligned(s, pa, ref)
    img_b, valid_b = _aligned(s, pb, ref)
    if img_a.shape != img_b.shape:
        st.error("These photos are not in one frame; align them on *Line up* first.")
        return
    kind = st.radio("Change map", list(KINDS), format_func=lambda k: KINDS[k], horizontal=True)
    valid = valid_a & valid_b
    diff = change_map(img_a, img_b, kind=kind, valid=valid)
    rgba = overlay_rgba(diff)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    h, w = img_a.shape[:2]
    html = compare_html(
        to_jpeg_bytes(img_a, quality=88),
        to_jpeg_bytes(img_b, quality=88),
        before_label=f"before · {pa.session.on_date}",
        after_label=f"after · {pb.session.on_date}",
        change_png=buf.getvalue(),
        aspect=w / h,
    )
    st.iframe(html, height=int(760 * h / w) + 60)
    col1, col2 = st.columns(2)
    col1.image(img_a, caption=f"Before: {label[a_id]}")
    col2.image(img_b, caption=f"After (aligned): {label[b_id]}")
    finite = diff[np.isfinite(diff)]
    if finite.size:
        st.caption(
            f"Change map ({KINDS[kind]}): median {np.median(finite):+.2f}, 5th–95th percentile "
            f"{np.percentile(finite, 5):+.2f} to {np.percentile(finite, 95):+.2f}. Tick “change map” in the viewer to overlay it."
        )


if __name__ == "__main__":
    render()
