"""Plotly figures of the dashboard: a metric against the healing timeline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from progress import timeline
from progress.metrics import Metric

PHASE_COLOURS = {
    "inflammation": "rgba(220, 60, 60, 0.13)",
    "proliferation": "rgba(240, 170, 40, 0.12)",
}


def timeline_figure(
    metric: Metric,
    days: Sequence[float],
    values: Sequence[float],
    *,
    inflamed: Sequence[bool],
    labels: Sequence[str],
    treatment_days: Sequence[float],
    limit: float,
    flagged: dict[int, str] | None = None,
    depth: str = "light",
) -> go.Figure:
    """Value against days since the first treatment, with phases, bands and flags.

    Treatment days are vertical lines; the inflammation and proliferation phases after
    each treatment are shaded; the expected band (``progress.timeline.expected_band``) is
    a grey ribbon; baseline ± the repeatability limit is a dotted band ("no measurable
    change"); photos taken within 7 days after a treatment are hollow diamonds.
    """
    days = np.asarray(days, float)
    values = np.asarray(values, float)
    fig = go.Figure()
    finite = np.isfinite(values)
    if not finite.any():
        return fig
    baseline = float(values[finite][0])
    end = max(float(days.max()) if days.size else 0, max(treatment_days, default=0)) + 14
    start = min(float(days.min()) if days.size else 0, 0) - 3
    # Shapes as plain dicts, set once at the end: fig.add_vrect/add_vline validate the
    # whole shape list on every call (≈ 0.1 s each, over a second for six treatments).
    shapes: list[dict] = []
    for t in treatment_days:
        for ph in timeline.phases(depth=depth):
            if ph.name in PHASE_COLOURS:
                shapes.append(
                    dict(
                        type="rect",
                        xref="x",
                        yref="paper",
                        x0=t + ph.start_day,
                        x1=min(t + ph.end_day, end),
                        y0=0,
                        y1=1,
                        fillcolor=PHASE_COLOURS[ph.name],
                        line=dict(width=0),
                        layer="below",
                    )
                )
        shapes.append(
            dict(
                type="line",
                xref="x",
                yref="paper",
                x0=t,
                x1=t,
                y0=0,
                y1=1,
                line=dict(width=1.5, dash="dash", color="rgba(90,90,90,0.7)"),
            )
        )
    grid = np.linspace(start, end, 400)
    low, centre, high = timeline.expected_band(
        metric.name,
        grid,
        treatment_days=list(treatment_days),
        baseline=baseline,
        limit=limit,
        depth=depth,
    )
    fig.add_trace(
        go.Scatter(
            x=grid, y=high, mode="lines", line=dict(width=0), showlegend=False, hoverinfo="skip"
        )
    )
    fig.add_trace(
        go.Scatter(
            x=grid,
            y=low,
            mode="lines",
            line=dict(width=0),
            fill="tonexty",
            fillcolor="rgba(120,120,160,0.18)",
            name="expected course",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=grid,
            y=centre,
            mode="lines",
            line=dict(color="rgba(90,90,140,0.6)", dash="dot"),
            name="expected centre",
            hoverinfo="skip",
        )
    )
    if np.isfinite(limit):
        shapes.append(
            dict(
                type="rect",
                xref="paper",
                yref="y",
                x0=0,
                x1=1,
                y0=baseline - limit,
                y1=baseline + limit,
                line=dict(width=1, dash="dot", color="rgba(40,120,40,0.6)"),
                fillcolor="rgba(40,160,40,0.06)",
                layer="below",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                line=dict(color="rgba(40,120,40,0.6)", dash="dot"),
                name=f"baseline ± {limit:.3g} (no measurable change)",
            )
        )
    inflamed = np.asarray(inflamed, bool)
    labels = list(labels)
    ok = finite & ~inflamed
    fig.add_trace(
        go.Scatter(
            x=days[finite],
            y=values[finite],
            mode="lines",
            line=dict(color="rgba(30,80,160,0.35)"),
            showlegend=False,
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=days[ok],
            y=values[ok],
            mode="markers",
            marker=dict(size=11, color="#1f4e9c"),
            name="photo",
            text=[labels[i] for i in np.flatnonzero(ok)],
            hovertemplate="%{text}<br>day %{x:.0f}: %{y:.4g}<extra></extra>",
        )
    )
    inf = finite & inflamed
    if inf.any():
        fig.add_trace(
            go.Scatter(
                x=days[inf],
                y=values[inf],
                mode="markers",
                marker=dict(size=12, symbol="diamond-open", color="#c0392b", line=dict(width=2)),
                name="≤ 7 days after a session (inflammation)",
                text=[labels[i] for i in np.flatnonzero(inf)],
                hovertemplate="%{text}<br>day %{x:.0f}: %{y:.4g}<br>shows inflammation, not the result<extra></extra>",
            )
        )
    if flagged:
        idx = [i for i in flagged if finite[i]]
        if idx:
            fig.add_trace(
                go.Scatter(
                    x=days[idx],
                    y=values[idx],
                    mode="markers",
                    marker=dict(size=20, symbol="circle-open", color="#e67e22", line=dict(width=2)),
                    name="flagged",
                    text=[flagged[i] for i in idx],
                    hovertemplate="%{text}<extra></extra>",
                )
            )
    arrow = "↓ lower is better" if metric.better == "lower" else "↑ higher is better"
    fig.update_layout(
        title=f"{metric.label} ({arrow})",
        xaxis_title="days since first treatment",
        yaxis_title=f"{metric.label}" + (f" [{metric.unit}]" if metric.unit else ""),
        height=460,
        margin=dict(l=60, r=20, t=60, b=50),
        legend=dict(orientation="h", y=-0.2),
        xaxis=dict(range=[start, end]),
        shapes=shapes,
    )
    return fig
