"""Skin Progress dashboard: ``streamlit run app.py``.

A frame only: page config, the login gate, the store, the sidebar and the pages. The pages
live in ``src/progress_app/pages/`` and call the ``progress`` library.
"""

import streamlit as st

from progress_app import auth, state
from progress_app.pages import clients, compare, lineup, measure, reports, timeline

st.set_page_config(page_title="Skin Progress", page_icon="🩹", layout="wide")

if not auth.gate():
    st.stop()

store = state.store()
state.seed_once(store)
state.sidebar(store)

st.navigation(
    {
        "Clients": [
            st.Page(clients.render, title="Clients & photos", url_path="clients", default=True)
        ],
        "Analysis": [
            st.Page(lineup.render, title="Line up", url_path="lineup"),
            st.Page(measure.render, title="Measure", url_path="measure"),
            st.Page(timeline.render, title="Timeline", url_path="timeline"),
            st.Page(compare.render, title="Compare", url_path="compare"),
        ],
        "Output": [st.Page(reports.render, title="Reports", url_path="reports")],
    }
).run()
