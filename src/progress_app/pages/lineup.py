"""Line up: every photo of the area aligned to the reference, with confidence and checks."""

from __future__ import annotations

import cv2
import numpy as np
import streamlit as st
from streamlit_image_coordinates import streamlit_image_coordinates

from progress import workflow
from progress.errors import ProgressError
from progress.loader import downscale
from progress_app import state
from progress_app.pages.common import analyse_with_progress, need_area, photo_label


def _overlay(ref: np.ndarray, warped: np.ndarray, valid: np.ndarray, mode: str) -> np.ndarray:
    if mode == "50 % blend":
        out = (ref.astype(np.uint16) + warped.astype(np.uint16)) // 2
        return np.where(valid[..., None], out, ref).astype(np.uint8)
    grey = cv2.cvtColor(warped, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 2), 20, 60) > 0
    out = ref.copy()
    out[edges & valid] = (0, 255, 120)
    return out


def _manual(s, area_id: int, ref, photo) -> None:
    st.markdown(
        "Click a landmark on the reference (left), then the same landmark on this photo (right); "
        "repeat for at least three landmarks spread over the photo (moles, brows, corners of a sticker)."
    )
    key = f"pts_{area_id}_{photo.record.id}"
    pts = st.session_state.setdefault(key, {"ref": [], "mov": []})
    width = 560
    ref_prev = _click_view(s, ref.record.id, ref.record.sha256, 2 * width)
    mov_prev = _click_view(s, photo.record.id, photo.record.sha256, 2 * width)
    c1, c2 = st.columns(2)
    with c1:
        st.caption(f"Reference: {len(pts['ref'])} point(s)")
        v = streamlit_image_coordinates(
            _marked(ref_prev, pts["ref"], ref.record.width),
            width=width,
            key=f"{key}_r",
            image_format="JPEG",
            jpeg_quality=85,
        )
        if v and (v["x"], v["y"], "r") != st.session_state.get(f"{key}_last_r"):
            st.session_state[f"{key}_last_r"] = (v["x"], v["y"], "r")
            f = ref.record.width / v["width"]
            pts["ref"].append((v["x"] * f, v["y"] * f))
            st.rerun()
    with c2:
        st.caption(f"This photo: {len(pts['mov'])} point(s)")
        v = streamlit_image_coordinates(
            _marked(mov_prev, pts["mov"], photo.record.width),
            width=width,
            key=f"{key}_m",
            image_format="JPEG",
            jpeg_quality=85,
        )
        if v and (v["x"], v["y"], "m") != st.session_state.get(f"{key}_last_m"):
            st.session_state[f"{key}_last_m"] = (v["x"], v["y"], "m")
            f = photo.record.width / v["width"]
            pts["mov"].append((v["x"] * f, v["y"] * f))
            st.rerun()
    n = min(len(pts["ref"]), len(pts["mov"]))
    b1, b2 = st.columns(2)
    if b1.button(f"Align from {n} point pair(s)", disabled=n < 3, key=f"{key}_go", type="primary"):
        try:
            payload = workflow.align_manually(
                s,
                area_id,
                photo.record.id,
                pts["ref"][:n],
                pts["mov"][:n],
                box=workflow.area_box(s, area_id),
            )
        except ProgressError as exc:
            st.error(str(exc))
        else:
            a = payload["alignment"]
            st.success(
                f"Aligned by hand: estimated error {a['residual_px']:.1f} px, confidence {a['confidence']:.2f}."
            )
            st.session_state.pop(key)
    if b2.button("Clear points", key=f"{key}_clear"):
        st.session_state.pop(key)
        st.rerun()


@st.cache_data(max_entries=32, show_spinner=False)
def _click_view(_s, photo_id: int, sha: str, width: int) -> np.ndarray:
    """A preview of at most ``width`` px across for the point-clicking components."""
    prev = state.preview_rgb(_s, photo_id, sha)
    return downscale(prev, long_side=max(1, width * max(prev.shape[:2]) // prev.shape[1]))


@st.cache_data(max_entries=32, show_spinner=False)
def _overlay_jpeg(
    _s, photo_id: int, sha: str, ref_id: int, ref_sha: str, matrix: tuple, mode: str
) -> bytes:
    """The overlay of an aligned photo on the reference, as a JPEG for st.image."""
    warped, valid = state.aligned_preview(_s, photo_id, sha, ref_id, ref_sha, matrix)
    ref_prev = state.preview_rgb(_s, ref_id, ref_sha)
    return state.small_jpeg(_overlay(ref_prev, warped, valid, mode), long_side=1400)


def _marked(img: np.ndarray, points, full_width: int) -> np.ndarray:
    out = img.copy()
    f = img.shape[1] / full_width
    for i, (x, y) in enumerate(points):
        c = (int(x * f), int(y * f))
        cv2.circle(out, c, 9, (255, 255, 0), 2)
        cv2.putText(
            out, str(i + 1), (c[0] + 10, c[1] - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 0), 2
        )
    return out


def render() -> None:
    s = state.store()
    st.title("Line up")
    area_id = need_area(s)
    if area_id is None:
        return
    photos = workflow.area_photos(s, area_id)
    if len(photos) < 1:
        st.info("Upload photos first.")
        return
    ids = [p.record.id for p in photos]
    ref_id = workflow.reference_id(s, area_id)
    pick = st.selectbox(
        "Reference photo (every other photo is aligned to it)",
        ids,
        index=ids.index(ref_id),
        format_func=lambda i: photo_label(next(p for p in photos if p.record.id == i)),
    )
    if pick != ref_id:
        s.set_reference(area_id, pick)
        st.rerun()
    analyse_with_progress(s, area_id)
    photos = workflow.area_photos(s, area_id)
    rows = []
    for p in photos:
        a = (p.result or {}).get("alignment")
        rows.append(
            {
                "photo": photo_label(p),
                "confidence": None if a is None else round(a["confidence"], 2),
                "est. error (px)": None if a is None else round(a["residual_px"], 2),
                "method": "reference" if p.record.id == ref_id else (a or {}).get("method", "—"),
                "check": "reference"
                if p.record.id == ref_id
                else ("aligned" if a and a["confidence"] >= 0.5 else "check by hand"),
                "reason": "" if a is None else a["reason"],
            }
        )
    st.dataframe(rows, hide_index=True, width="stretch")
    others = [p for p in photos if p.record.id != ref_id and p.result]
    if not others:
        return
    st.subheader("Check an alignment")
    pid = st.selectbox(
        "Photo",
        [p.record.id for p in others],
        format_func=lambda i: photo_label(next(p for p in others if p.record.id == i)),
    )
    photo = next(p for p in others if p.record.id == pid)
    ref = next(p for p in photos if p.record.id == ref_id)
    mode = st.radio(
        "Overlay", ["50 % blend", "edges of this photo on the reference"], horizontal=True
    )
    a = photo.result["alignment"]
    st.image(
        _overlay_jpeg(
            s,
            pid,
            photo.record.sha256,
            ref_id,
            ref.record.sha256,
            tuple(np.ravel(a["matrix"])),
            mode,
        ),
        caption=f"{a['reason']} (confidence {a['confidence']:.2f})",
    )
    with st.expander("Align by hand (click matching points)", expanded=a["confidence"] < 0.5):
        _manual(s, area_id, ref, photo)


if __name__ == "__main__":
    render()
