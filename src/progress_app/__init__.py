"""The Streamlit dashboard of Skin Progress (the only package that imports Streamlit)."""
