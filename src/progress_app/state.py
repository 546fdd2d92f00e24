"""The store, the sidebar selection and the cached image previews of the dashboard."""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import streamlit as st

from progress.loader import downscale, to_jpeg_bytes
from progress.registration import warp
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


def _shared_store() -> Store:
    return _open_store(_setting("db_url", "PROGRESS_DB_URL"), str(data_dir()))


class RunStore:
    """The store as one script run sees it: each read is made once, until a write.

    A page calls the workflow layer several times per run and every call re-reads the
    same rows (``area_photos`` alone runs four queries and is called up to five times),
    which made a revisit of a page take about 0.2 s in SQL. Reads listed in ``_MEMO``
    are remembered for the rest of the run; any other method call (a write, or a method
    not listed) clears what was remembered before and after it runs. When the run ends
    (:func:`run_scope`) every call goes straight to the store again, so the deferred
    download callables, which run later, always read fresh data, and nothing is kept
    from one run to the next.
    """

    _MEMO = frozenset(
        {
            "clients",
            "client",
            "areas",
            "area",
            "area_settings",
            "treatments",
            "treatment",
            "sessions",
            "session",
            "photos",
            "photo",
            "result",
            "results",
        }
    )
    _PASS = frozenset({"photo_rgb", "photo_bytes", "export_client", "schema_version"})

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self._memo: dict = {}
        self._live = True

    def end(self) -> None:
        self._live = False
        self._memo.clear()

    def __repr__(self) -> str:
        return f"RunStore({self._inner!r})"

    def __getattr__(self, name: str):
        attr = getattr(self._inner, name)
        if not callable(attr) or not self._live or name in self._PASS:
            return attr
        if name in self._MEMO:

            def read(*args, **kwargs):
                if not self._live:
                    return attr(*args, **kwargs)
                try:
                    key = (name, args, tuple(sorted(kwargs.items())))
                    hash(key)
                except TypeError:
                    return attr(*args, **kwargs)
                if key not in self._memo:
                    self._memo[key] = attr(*args, **kwargs)
                value = self._memo[key]
                # Records are frozen; dicts (settings, results) are copied so that a
                # caller changing one cannot change what the next caller reads.
                if isinstance(value, dict):
                    return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
                return list(value) if isinstance(value, list) else value

            return read

        def call(*args, **kwargs):
            self._memo.clear()
            try:
                return attr(*args, **kwargs)
            finally:
                self._memo.clear()

        return call


_RUN = threading.local()


@contextlib.contextmanager
def run_scope() -> Iterator[RunStore]:
    """The store for one script run (``app.py`` wraps the whole run in this)."""
    rs = RunStore(_shared_store())
    _RUN.store = rs
    try:
        yield rs
    finally:
        _RUN.store = None
        rs.end()


def store() -> Store:
    """The store (SQLite in the data folder, or ``PROGRESS_DB_URL``) for this run."""
    rs = getattr(_RUN, "store", None)
    return rs if rs is not None else _shared_store()


def selected_client() -> int | None:
    return st.session_state.get("client_id")


def selected_area() -> int | None:
    return st.session_state.get("area_id")


def _picked_client() -> None:
    st.session_state["client_id"] = st.session_state["_client_pick"]
    st.session_state.pop("area_id", None)


def _picked_area() -> None:
    st.session_state["area_id"] = st.session_state["_area_pick"]


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
        # The session's selection drives the pickers (a page may change it, e.g. after
        # creating a client or an area); a pick by the user updates it in on_change.
        client_id = st.session_state.get("client_id")
        if client_id not in ids:
            client_id = ids[0]
            st.session_state["client_id"] = client_id
            st.session_state.pop("area_id", None)
        st.session_state["_client_pick"] = client_id
        st.selectbox(
            "Client", ids, format_func=names.get, key="_client_pick", on_change=_picked_client
        )
        areas = s.areas(client_id)
        if not areas:
            st.caption("This client has no treatment area yet.")
            st.session_state.pop("area_id", None)
            return
        aids = [a.id for a in areas]
        anames = {a.id: a.name for a in areas}
        area_id = st.session_state.get("area_id")
        if area_id not in aids:
            area_id = aids[0]
            st.session_state["area_id"] = area_id
        st.session_state["_area_pick"] = area_id
        st.selectbox(
            "Treatment area", aids, format_func=anames.get, key="_area_pick", on_change=_picked_area
        )
        st.caption("Photos are health data: they stay on this machine.")


@st.cache_data(max_entries=128, show_spinner=False)
def preview_rgb(_store: Store, photo_id: int, sha: str) -> np.ndarray:
    """A downscaled copy (≤ 1600 px) of a stored photo; keyed by id and content hash."""
    return downscale(_store.photo_rgb(photo_id), long_side=PREVIEW_LONG_SIDE)


@st.cache_data(max_entries=128, show_spinner=False)
def preview_jpeg(_store: Store, photo_id: int, sha: str) -> bytes:
    return to_jpeg_bytes(preview_rgb(_store, photo_id, sha), quality=85)


@st.cache_data(max_entries=256, show_spinner=False)
def thumb_jpeg(_store: Store, photo_id: int, sha: str, long_side: int = 480) -> bytes:
    """A small JPEG of a stored photo for thumbnails (st.image sends it as it is)."""
    return to_jpeg_bytes(
        downscale(preview_rgb(_store, photo_id, sha), long_side=long_side), quality=85
    )


def small_jpeg(img: np.ndarray, *, long_side: int, quality: int = 88) -> bytes:
    """An image as a JPEG of at most ``long_side`` px, ready for st.image (no re-encoding)."""
    return to_jpeg_bytes(downscale(img, long_side=long_side), quality=quality)


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
