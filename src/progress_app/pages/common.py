"""Pieces shared by several pages."""

from __future__ import annotations

import streamlit as st

from progress import workflow
from progress.errors import ProgressError


def need_area(s) -> int | None:
    """The selected area, or a hint and None."""
    from progress_app import state

    area_id = state.selected_area()
    if area_id is None:
        st.info(
            "Choose a client and a treatment area in the sidebar (or create them on *Clients & photos*)."
        )
    return area_id


def photo_label(p: workflow.AreaPhoto) -> str:
    tag = " · ≤7 d after session" if p.within_7_days else ""
    return f"{p.session.on_date.isoformat()} (day {p.day:+.0f}) · {p.record.display_name}{tag}"


def analyse_with_progress(s, area_id: int) -> None:
    """Align and measure whatever has no current result, with a progress bar."""
    box = workflow.area_box(s, area_id)
    pending = workflow.pending(s, area_id, box=box)
    if not pending:
        return
    bar = st.progress(0.0, text=f"Aligning and measuring {pending} photo(s)…")

    def step(done: int, total: int, name: str) -> None:
        bar.progress(done / total, text=f"Aligned and measured {done} of {total} ({name})")

    try:
        workflow.analyse_area(s, area_id, box=box, on_progress=step)
    except ProgressError as exc:
        st.error(f"Analysis stopped: {exc}")
    bar.empty()
