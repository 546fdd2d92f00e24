"""Timeline: a metric against days since the first treatment, with the expected course."""

from __future__ import annotations

import streamlit as st

from progress import workflow
from progress.metrics import METRICS
from progress.report import chart_png
from progress_app import state
from progress_app.charts import timeline_figure
from progress_app.pages.common import analyse_with_progress, need_area, photo_label

# Material icons ship with Streamlit: unlike emoji they need no colour-emoji font on the
# viewing machine (headless Chromium on Debian showed empty boxes for 🔴 🟠 🔵).
SEVERITY_ICON = {
    "alert": ":red[:material/error:]",
    "warn": ":orange[:material/warning:]",
    "info": ":blue[:material/info:]",
}


def render() -> None:
    s = state.store()
    st.title("Timeline")
    area_id = need_area(s)
    if area_id is None:
        return
    if workflow.reference_id(s, area_id) is None:
        st.info("Upload photos first.")
        return
    analyse_with_progress(s, area_id)
    photos = [p for p in workflow.area_photos(s, area_id) if p.result]
    if not photos:
        return
    names = list(METRICS)
    name = st.selectbox(
        "Metric", names, index=names.index("lab_a"), format_func=lambda n: METRICS[n].label
    )
    m = METRICS[name]
    limits, source = workflow.limits_for(s, area_id)
    flags = workflow.flags(s, area_id, photos, limits)
    index = {p.record.id: i for i, p in enumerate(photos)}
    mine = [f for f in flags if f.metric in (None, name)]
    flagged = {}
    for f in mine:
        if f.photo_id in index and f.severity != "info":
            flagged.setdefault(index[f.photo_id], []).append(f.message)
    days = [p.day for p in photos]
    values = [p.metrics.get(name, float("nan")) for p in photos]
    fig = timeline_figure(
        m,
        days,
        values,
        inflamed=[p.within_7_days for p in photos],
        labels=[photo_label(p) for p in photos],
        treatment_days=workflow.treatment_days(s, area_id),
        limit=limits.get(name, float("nan")),
        flagged={i: "<br>".join(v) for i, v in flagged.items()},
    )
    st.plotly_chart(
        fig,
        width="stretch",
        config={"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": name}},
    )
    st.caption(
        "Dashed lines: treatments. Shaded: inflammation (red) and proliferation (amber) after each treatment; "
        "maturation follows over months. Grey ribbon: the expected course (a heuristic envelope from published "
        "timelines, not a clinical norm). Green dotted band: baseline ± the smallest real change. "
        "Hollow diamonds: photos taken within 7 days after a session. " + source
    )
    series = workflow.chart_series(s, area_id, photos, name, limits)
    st.download_button(
        "Download this chart (PNG)",
        data=lambda: chart_png(series),
        file_name=f"{name}-timeline.png",
        mime="image/png",
    )
    st.subheader("Flags")
    if not flags:
        st.write("Nothing to flag.")
    for f in flags:
        if f.metric not in (None, name) and f.severity == "info":
            continue
        label = next((photo_label(p) for p in photos if p.record.id == f.photo_id), "")
        st.markdown(f"{SEVERITY_ICON.get(f.severity, '•')} **{label}** — {f.message}")


if __name__ == "__main__":
    render()
