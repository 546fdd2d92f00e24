"""The store, the sidebar selection and the cached image previews of the dashboard."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import streamlit as st

from progress.align import warp
from progress.loader import downscale, to_jpeg_bytes
from progress.store import Store

PREVIEW_LONG_SIDE = 1600
_SEED_LOCK = threading.Lock()
REPO = Path(__file__).resolve().parents[2]


def _setting(name: str, env: str) -> str | None:
    if os.environ.get(env):
        return os.environ[env]
    try:
        return st.secrets.get(name)  # .streamlit/secrets.toml, if present
    except (FileNotFoundError, KeyError, AttributeError):
        return None
    except Exception:  # noqa: BLE001 - a malformed secrets file must not stop the app
        return None


def data_dir() -> Path:
    return Path(_setting("data_dir", "PROGRESS_DATA_DIR") or REPO / "data")


def sample_dir() -> Path:
    return Path(_setting("sample_dir", "PROGRESS_SAMPLE_DIR") or REPO / "sample_images")


@st.cache_resource(show_spinner=False)
def _open_store(url: str | None, folder: str) -> Store:
    return Store(url, data_dir=folder)


def store() -> Store:
    """The process-wide store (SQLite in the data folder, or ``PROGRESS_DB_URL``)."""
    return _open_store(_setting("db_url", "PROGRESS_DB_URL"), str(data_dir()))


def selected_client() -> int | None:
    return st.session_state.get("client_id")


def selected_area() -> int | None:
    return st.session_state.get("area_id")


def sidebar(s: Store) -> None:
    """Client and area pickers, shared by every page (per browser session)."""
    clients = s.clients()
    with st.sidebar:
        st.markdown("### Client and area")
        if not clients:
            st.caption("No client yet: create one on *Clients & photos*.")
            st.session_state.pop("client_id", None)
            st.session_state.pop("area_id", None)
            return
        ids = [c.id for c in clients]
        names = {c.id: c.name for c in clients}
        current = st.session_state.get("client_id")
        index = ids.index(current) if current in ids else 0
        client_id = st.selectbox(
            "Client", ids, index=index, format_func=names.get, key="_client_pick"
        )
        if client_id != current:
            st.session_state["client_id"] = client_id
            st.session_state.pop("area_id", None)
        areas = s.areas(client_id)
        if not areas:
            st.caption("This client has no treatment area yet.")
            st.session_state.pop("area_id", None)
            return
        aids = [a.id for a in areas]
        anames = {a.id: a.name for a in areas}
        cur_area = st.session_state.get("area_id")
        aindex = aids.index(cur_area) if cur_area in aids else 0
        area_id = st.selectbox(
            "Treatment area",
            aids,
            index=aindex,
            format_func=anames.get,
            key=f"_area_pick_{client_id}",
        )
        st.session_state["area_id"] = area_id
        st.caption("Photos are health data: they stay on this machine.")


@st.cache_data(max_entries=128, show_spinner=False)
def preview_rgb(_store: Store, photo_id: int, sha: str) -> np.ndarray:
    """A downscaled copy (≤ 1600 px) of a stored photo; keyed by id and content hash."""
    return downscale(_store.photo_rgb(photo_id), long_side=PREVIEW_LONG_SIDE)


@st.cache_data(max_entries=128, show_spinner=False)
def preview_jpeg(_store: Store, photo_id: int, sha: str) -> bytes:
    return to_jpeg_bytes(preview_rgb(_store, photo_id, sha), quality=85)


def scale_matrix(matrix: np.ndarray, s_ref: float, s_mov: float) -> np.ndarray:
    """Express a full-resolution moving→reference matrix between two scaled copies."""
    sr = np.diag([s_ref, s_ref, 1.0])
    sm_inv = np.diag([1 / s_mov, 1 / s_mov, 1.0])
    return sr @ np.asarray(matrix, float) @ sm_inv


@st.cache_data(max_entries=64, show_spinner=False)
def aligned_preview(
    _store: Store, photo_id: int, sha: str, ref_id: int, ref_sha: str, matrix: tuple
) -> tuple[np.ndarray, np.ndarray]:
    """The photo warped onto the reference preview's frame, and its valid mask."""
    ref = preview_rgb(_store, ref_id, ref_sha)
    mov = preview_rgb(_store, photo_id, sha)
    rec_ref, rec_mov = _store.photo(ref_id), _store.photo(photo_id)
    s_ref = ref.shape[1] / rec_ref.width
    s_mov = mov.shape[1] / rec_mov.width
    m = scale_matrix(np.array(matrix, float).reshape(3, 3), s_ref, s_mov)
    return warp(mov, m, ref.shape[:2])


def seed_once(s: Store) -> None:
    """On the very first start (empty store), load the bundled sample series."""
    if st.session_state.get("_seeded"):
        return
    st.session_state["_seeded"] = True
    if os.environ.get("PROGRESS_NO_SAMPLES") or s.clients():
        return
    from progress.workflow import seed_samples

    with _SEED_LOCK, st.spinner("Loading the sample series…"):
        client_id = seed_samples(s, sample_dir())
    if client_id is not None:
        st.session_state["client_id"] = client_id
