"""Compare two sessions: aligned side by side, overlay slider, blink and a change map."""

from __future__ import annotations

import io

import numpy as np
import streamlit as st
from PIL import Image

from progress import workflow
from progress.change import KINDS, change_map, overlay_rgba
from progress.loader import downscale
from progress.normalise import ColourCorrection
from progress_app import state
from progress_app.pages.common import analyse_with_progress, need_area, photo_label
from progress_app.viewer import compare_html

VIEW_LONG_SIDE = 1200


def _key(p, ref) -> tuple:
    """What an aligned view of ``p`` depends on: ids, hashes, matrix and card gains."""
    result = p.result or {}
    a = result.get("alignment")
    m = None if p.record.id == ref.record.id or not a else tuple(np.ravel(a["matrix"]))
    gains = (result.get("colour") or {}).get("gains")
    g = tuple(float(v) for v in gains) if gains else None
    return (p.record.id, p.record.sha256, ref.record.id, ref.record.sha256, m, g)


def _aligned(s, key: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The photo on the reference preview's frame, white-balanced on the grey card if any.

    The gains are those the analysis found on the area's grey card (linear sRGB), so the
    views and the change map compare colour as the metrics do.
    """
    photo_id, sha, ref_id, ref_sha, m, gains = key
    if m is None:
        img = state.preview_rgb(s, photo_id, sha)
        valid = np.ones(img.shape[:2], bool)
    else:
        img, valid = state.aligned_preview(s, photo_id, sha, ref_id, ref_sha, m)
    if gains is not None:
        img = ColourCorrection(np.diag(gains), "grey-card", 0.0).apply(img)
    return img, valid


@st.cache_data(max_entries=16, show_spinner=False)
def _views(_s, key_a: tuple, key_b: tuple, kind: str) -> dict | None:
    """JPEGs of both aligned photos, the change map as a PNG and its statistics.

    Cached on the photos' ids, content hashes and alignment matrices, so a revisit costs
    nothing and a re-alignment or a new photo recomputes.
    """
    img_a, valid_a = _aligned(_s, key_a)
    img_b, valid_b = _aligned(_s, key_b)
    if img_a.shape != img_b.shape:
        return None
    diff = change_map(img_a, img_b, kind=kind, valid=valid_a & valid_b)
    rgba = downscale(overlay_rgba(diff), long_side=VIEW_LONG_SIDE)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG", compress_level=1)
    finite = diff[np.isfinite(diff)]
    stats = (
        (float(np.median(finite)), *map(float, np.percentile(finite, [5, 95])))
        if finite.size
        else None
    )
    h, w = img_a.shape[:2]
    return {
        "a": state.small_jpeg(img_a, long_side=VIEW_LONG_SIDE),
        "b": state.small_jpeg(img_b, long_side=VIEW_LONG_SIDE),
        "change": buf.getvalue(),
        "stats": stats,
        "aspect": w / h,
    }


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
    kind = st.radio("Change map", list(KINDS), format_func=lambda k: KINDS[k], horizontal=True)
    key_a, key_b = _key(pa, ref), _key(pb, ref)
    views = _views(s, key_a, key_b, kind)
    if views is None:
        st.error("These photos are not in one frame; align them on *Line up* first.")
        return
    html = compare_html(
        views["a"],
        views["b"],
        before_label=f"before · {pa.session.on_date}",
        after_label=f"after · {pb.session.on_date}",
        change_png=views["change"],
        aspect=views["aspect"],
    )
    st.iframe(html, height=int(760 / views["aspect"]) + 60)
    if views["stats"] is not None:
        med, p5, p95 = views["stats"]
        st.caption(
            f"Change map ({KINDS[kind]}): median {med:+.2f}, 5th–95th percentile "
            f"{p5:+.2f} to {p95:+.2f}. Tick “change map” in the viewer to overlay it."
            + (
                " Both photos are white-balanced on the area's grey card."
                if key_a[-1] or key_b[-1]  # the grey-card gains
                else " No grey card is set for this area: a change of light shows as a change of colour."
            )
        )
    with st.expander("Still images (right-click to save)"):
        col1, col2 = st.columns(2)
        col1.image(views["a"], caption=f"Before: {label[a_id]}")
        col2.image(views["b"], caption=f"After (aligned): {label[b_id]}")


if __name__ == "__main__":
    render()
