"""Clients, treatment areas, treatments, sessions and photo upload; deletion and export."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import streamlit as st

from progress.errors import ProgressError
from progress.export import export_client_record
from progress.loader import SUPPORTED_EXTENSIONS, load_image
from progress.workflow import analysis_workers
from progress_app import state

SKIN_TYPES = {None: "not recorded", 1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}


def _confirm(key: str, what: str) -> bool:
    """Two-step deletion: a first click arms, a second confirms."""
    if st.session_state.get(f"confirm_{key}"):
        st.warning(f"Delete {what}? Its photos, results and files are removed for good.")
        c1, c2 = st.columns(2)
        if c1.button("Yes, delete", key=f"yes_{key}", type="primary"):
            st.session_state.pop(f"confirm_{key}")
            return True
        if c2.button("Cancel", key=f"no_{key}"):
            st.session_state.pop(f"confirm_{key}")
            st.rerun()
    elif st.button(f"Delete {what}…", key=f"del_{key}"):
        st.session_state[f"confirm_{key}"] = True
        st.rerun()
    return False


def _new_client(s) -> None:
    with st.expander("New client", expanded=not s.clients()):
        with st.form("new_client", clear_on_submit=True):
            name = st.text_input("Name or pseudonym", max_chars=200)
            skin = st.selectbox(
                "Fitzpatrick skin type", list(SKIN_TYPES), format_func=SKIN_TYPES.get
            )
            notes = st.text_area("Notes", max_chars=2000)
            if st.form_submit_button("Create client"):
                try:
                    c = s.add_client(name.strip(), skin_type=skin, notes=notes)
                except ValueError as exc:
                    st.error(str(exc))
                else:
                    st.session_state["client_id"] = c.id
                    st.session_state.pop("area_id", None)
                    st.rerun()


def _areas(s, client_id: int) -> None:
    st.subheader("Treatment areas")
    with st.form("new_area", clear_on_submit=True):
        c1, c2 = st.columns([3, 1])
        name = c1.text_input("New area (e.g. left cheek, scar on forearm)", max_chars=200)
        if c2.form_submit_button("Add area") and name.strip():
            try:
                a = s.add_area(client_id, name.strip())
            except ValueError as exc:
                st.error(str(exc))
            else:
                st.session_state["area_id"] = a.id
                st.rerun()


def _treatments(s, area_id: int) -> None:
    st.subheader("Treatments")
    ts = s.treatments(area_id)
    if ts:
        st.dataframe(
            [
                {
                    "date": t.on_date.isoformat(),
                    "needle depth (mm)": "—" if t.depth_mm is None else f"{t.depth_mm:g}",
                    "notes": t.notes,
                }
                for t in ts
            ],
            hide_index=True,
            width="stretch",
        )
    with st.form("new_treatment", clear_on_submit=True):
        c1, c2, c3 = st.columns([2, 1, 3])
        on = c1.date_input("Treatment date", value=date.today())
        depth = c2.number_input("Depth (mm)", min_value=0.0, max_value=3.0, value=0.5, step=0.25)
        notes = c3.text_input("Notes", max_chars=500)
        if st.form_submit_button("Add treatment"):
            s.add_treatment(area_id, on, depth_mm=depth, notes=notes)
            st.rerun()
    if ts:
        pick = st.selectbox(
            "Remove a treatment",
            [None, *[t.id for t in ts]],
            format_func=lambda i: (
                "—" if i is None else next(t.on_date.isoformat() for t in ts if t.id == i)
            ),
        )
        if pick is not None and _confirm(f"treatment_{pick}", "this treatment"):
            s.delete_treatment(pick)
            st.rerun()


def _try(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, or the ProgressError it raised (shown to the user)."""
    try:
        return fn(*args, **kwargs)
    except ProgressError as exc:
        return exc


def _upload(s, area_id: int) -> None:
    st.subheader("Add photos")
    with st.form("upload", clear_on_submit=True):
        files = st.file_uploader(
            "Photos (JPEG, PNG, WebP, HEIC, TIFF)",
            type=list(SUPPORTED_EXTENSIONS),
            accept_multiple_files=True,
        )
        mode = st.radio(
            "Session date", ["From each photo's EXIF date", "This date for all"], horizontal=True
        )
        fixed = st.date_input(
            "Date (when not from EXIF, or when a photo has none)", value=date.today()
        )
        submitted = st.form_submit_button("Upload", type="primary")
    if not submitted or not files:
        return
    # Decode and store in threads (the heavy parts release the GIL); sessions are found
    # or made here in order, so two photos of one new date share one session.
    names = [f.name for f in files]
    datas = [f.getvalue() for f in files]
    added, failed = 0, 0
    with ThreadPoolExecutor(analysis_workers()) as pool, st.spinner("Reading the photos…"):
        loaded = list(pool.map(lambda d, n: _try(load_image, d, name=n), datas, names))
        jobs = []
        for name, data, got in zip(names, datas, loaded, strict=True):
            if isinstance(got, ProgressError):
                failed += 1
                st.error(f"Not added: {got}")
                continue
            when = got.taken_at.date() if (mode.startswith("From") and got.taken_at) else fixed
            session = s.session_for_date(area_id, when)
            jobs.append(pool.submit(_try, s.add_photo, session.id, data, name=name, photo=got))
        for job in jobs:
            got = job.result()
            if isinstance(got, ProgressError):
                failed += 1
                st.error(f"Not added: {got}")
            else:
                added += 1
    if added:
        st.success(
            f"{added} photo(s) added."
            + (f" {failed} file(s) were refused (see above)." if failed else "")
        )


def _photos(s, area_id: int) -> None:
    st.subheader("Sessions and photos")
    photos = s.photos(area_id=area_id)
    sessions = {x.id: x for x in s.sessions(area_id)}
    if not photos:
        st.info("No photos in this area yet: upload some above.")
        return
    st.dataframe(
        [
            {
                "id": p.id,
                "session": sessions[p.session_id].on_date.isoformat(),
                "photo": p.display_name,
                "taken (EXIF)": p.taken_at.isoformat(sep=" ") if p.taken_at else "—",
                "size": f"{p.width}×{p.height}",
            }
            for p in photos
        ],
        hide_index=True,
        width="stretch",
    )
    cols = st.columns(min(6, len(photos)))
    for i, p in enumerate(photos[:12]):
        with cols[i % len(cols)]:
            st.image(
                state.thumb_jpeg(s, p.id, p.sha256),
                caption=f"{sessions[p.session_id].on_date} · {p.display_name}",
            )
    c1, c2 = st.columns(2)
    with c1:
        pid = st.selectbox(
            "Photo to delete",
            [None, *[p.id for p in photos]],
            format_func=lambda i: (
                "—" if i is None else next(f"#{p.id} {p.display_name}" for p in photos if p.id == i)
            ),
        )
        if pid is not None and _confirm(f"photo_{pid}", "this photo"):
            s.delete_photo(pid)
            st.rerun()
    with c2:
        sid = st.selectbox(
            "Session to delete",
            [None, *sessions],
            format_func=lambda i: "—" if i is None else sessions[i].on_date.isoformat(),
        )
        if sid is not None and _confirm(f"session_{sid}", "this session and its photos"):
            s.delete_session(sid)
            st.rerun()


def render() -> None:
    s = state.store()
    st.title("Clients & photos")
    _new_client(s)
    client_id = state.selected_client()
    if client_id is None:
        st.info("Create a client to start.")
        return
    client = s.client(client_id)
    st.header(client.name)
    st.caption(
        f"Skin type {SKIN_TYPES.get(client.skin_type, '?')}"
        + (f" · {client.notes}" if client.notes else "")
    )
    _areas(s, client_id)
    area_id = state.selected_area()
    if area_id is not None:
        area = s.area(area_id)
        st.markdown(f"#### Area: {area.name}")
        _treatments(s, area_id)
        _upload(s, area_id)
        _photos(s, area_id)
        if _confirm(f"area_{area_id}", f"the area “{area.name}”"):
            s.delete_area(area_id)
            st.session_state.pop("area_id", None)
            st.rerun()
    st.divider()
    st.subheader("This client's record")
    st.download_button(
        "Export the whole record (ZIP: photos, metrics, reports, metadata)",
        data=lambda: export_client_record(s, client_id),
        file_name=f"client-{client_id}-export.zip",
        mime="application/zip",
    )
    if _confirm(f"client_{client_id}", f"the client “{client.name}” and everything of theirs"):
        s.delete_client(client_id)
        st.session_state.pop("client_id", None)
        st.session_state.pop("area_id", None)
        st.rerun()


if __name__ == "__main__":
    render()
