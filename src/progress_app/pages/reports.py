"""Reports: PDF, CSV and JSON of every metric, and a ZIP of the aligned photos."""

from __future__ import annotations

import streamlit as st

from progress import report, workflow
from progress_app import state
from progress_app.pages.common import analyse_with_progress, need_area


def render() -> None:
    s = state.store()
    st.title("Reports")
    area_id = need_area(s)
    if area_id is None:
        return
    if workflow.reference_id(s, area_id) is None:
        st.info("Upload photos first.")
        return
    analyse_with_progress(s, area_id)
    area = s.area(area_id)
    client = s.client(area.client_id)
    stem = f"skin-progress-{area_id}"
    st.write(f"**{client.name}** · {area.name}")
    st.download_button(
        "PDF report",
        data=lambda: report.pdf_report(workflow.report_data(s, area_id)),
        file_name=f"{stem}.pdf",
        mime="application/pdf",
        type="primary",
    )
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "Metrics (CSV)",
        data=lambda: report.metrics_csv(workflow.export_rows(s, area_id)),
        file_name=f"{stem}.csv",
        mime="text/csv",
    )
    c2.download_button(
        "Metrics (JSON)",
        data=lambda: report.metrics_json(
            workflow.export_rows(s, area_id), meta=workflow.export_meta(s, area_id)
        ),
        file_name=f"{stem}.json",
        mime="application/json",
    )
    c3.download_button(
        "Aligned photos (ZIP)",
        data=lambda: report.aligned_zip(workflow.aligned_images(s, area_id)),
        file_name=f"{stem}-aligned.zip",
        mime="application/zip",
    )
    st.caption(
        "The PDF holds the client, area and dates, the first and latest comparable photos aligned, the timeline "
        "charts, the metric table with changes, quality warnings and method notes. It is not a diagnosis. "
        "Stored photos and reports carry no EXIF or GPS data."
    )


if __name__ == "__main__":
    render()
