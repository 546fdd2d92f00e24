"""Skin Progress dashboard: ``streamlit run app.py``.

A frame only: page config, the login gate, the store, the sidebar and the pages. The pages
live in ``src/progress_app/pages/`` and call the ``progress`` library.
"""

from pathlib import Path

import streamlit as st

import progress_app
from progress_app import auth, state

st.set_page_config(page_title="Skin Progress", page_icon="🩹", layout="wide")

if not auth.gate():
    st.stop()

PAGES = Path(progress_app.__file__).parent / "pages"

# One store view per run: reads are made once per run (see state.RunStore).
with state.run_scope() as store:
    state.seed_once(store)
    state.sidebar(store)
    st.navigation(
        {
            "Clients": [st.Page(PAGES / "clients.py", title="Clients & photos", default=True)],
            "Analysis": [
                st.Page(PAGES / "lineup.py", title="Line up"),
                st.Page(PAGES / "measure.py", title="Measure"),
                st.Page(PAGES / "timeline.py", title="Timeline"),
                st.Page(PAGES / "compare.py", title="Compare"),
            ],
            "Output": [st.Page(PAGES / "reports.py", title="Reports")],
        }
    ).run()
