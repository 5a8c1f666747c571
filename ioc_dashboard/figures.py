"""Plotly figures from plain data: no Dash, no HTTP, so each one is testable on its own.

The map is a cartesian lon/lat plot rather than a tile map: the wall must work with no Internet,
and at city scale an equirectangular view corrected by cos(latitude) is indistinguishable from
Web Mercator.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from ioc_dashboard import geo
from ioc_dashboard.api_client import DeviceView, TelemetrySeries
from ioc_dashboard.selection import STATUSES, VIETNAM_TZ, device_hover_text, status_counts
from ioc_dashboard.theme import (
    BACKGROUND,
    FONT_FAMILY,
    GRID,
    PANEL,
    SELECTED_COLOUR,
    SERIES_COLOUR,
    STATUS_COLOURS,
    TEXT,
    UNIT_LABELS,
)

# Latitude of central Hai Phong: one degree of longitude there is cos(20.85°) ≈ 0.93 of a degree
# of latitude on the ground, so the y axis is stretched by the inverse to keep shapes true.
REFERENCE_LAT = 20.85
LAT_SCALE = 1 / math.cos(math.radians(REFERENCE_LAT))
# Opening view: the mainland and Cát Hải with a small margin. Bạch Long Vĩ lies ~70 km offshore
# (107.73 E, 20.13 N); including it would leave two thirds of the wall as empty sea, so it stays
# reachable by panning and an arrow in the corner says where it is.
INITIAL_LON_RANGE = (106.10, 107.24)
INITIAL_LAT_RANGE = (20.58, 21.26)

# Index of the first trace that changes with data; the refresh callback patches from here on so
# the ~250 KB of boundaries is sent to the browser once, not on every tick.
MAP_DYNAMIC_OFFSET = 2

_MAP_LEGEND = {"x": 0.01, "y": 0.99, "bgcolor": BACKGROUND, "bordercolor": GRID, "borderwidth": 1}
_OFFSHORE_HINT: dict[str, Any] = {
    "xref": "paper",
    "yref": "paper",
    "x": 0.99,
    "y": 0.02,
    "xanchor": "right",
    "yanchor": "bottom",
    "showarrow": False,
    "font": {"size": 15, "color": "#8fa9c2"},
}


def _marker_size(count: int) -> int:
    """Big dots for a pilot of dozens, small ones once thousands would cover the city."""
    return 11 if count <= 200 else 7 if count <= 2000 else 4


def map_static_traces() -> list[go.Scatter]:
    return [
        geo.boundary_trace(geo.commune_lines(), color="#38587a", width=0.7, meta="communes"),
        geo.boundary_trace(geo.outline_lines(), color="#6f93b8", width=1.6, meta="outline"),
    ]


def map_device_traces(
    devices: Sequence[DeviceView], *, selected_id: str | None, labels: Mapping[str, str]
) -> list[go.Scattergl | go.Scatter]:
    """One WebGL trace per status (for the legend), then a ring around the selected device."""
    counts = status_counts(devices)
    size = _marker_size(len(devices))
    traces: list[go.Scattergl | go.Scatter] = []
    for status in STATUSES:
        group = [d for d in devices if d.status == status]
        traces.append(
            go.Scattergl(
                x=[d.lon for d in group],
                y=[d.lat for d in group],
                customdata=[d.id for d in group],
                hovertext=[device_hover_text(d, labels) for d in group],
                hovertemplate="%{hovertext}<extra></extra>",
                mode="markers",
                marker={"size": size, "color": STATUS_COLOURS[status], "line": {"width": 0}},
                name=f"{labels[f'status_{status}']} ({counts[status]})",
                meta=f"devices:{status}",
            )
        )
    chosen = [d for d in devices if d.id == selected_id]
    traces.append(
        go.Scatter(
            x=[d.lon for d in chosen],
            y=[d.lat for d in chosen],
            mode="markers",
            marker={"size": size + 12, "symbol": "circle-open", "color": SELECTED_COLOUR},
            marker_line_width=3,
            hoverinfo="skip",
            showlegend=False,
            meta="selected",
        )
    )
    return traces


def map_figure(
    devices: Sequence[DeviceView], *, selected_id: str | None, labels: Mapping[str, str]
) -> go.Figure:
    data = [
        *map_static_traces(),
        *map_device_traces(devices, selected_id=selected_id, labels=labels),
        # Last, so that a device on a commune's centroid wins the hover (see geo.centroid_trace).
        geo.centroid_trace(geo.communes(), color=TEXT, meta="centroids"),
    ]
    figure = go.Figure(data=data)
    axis: dict[str, Any] = {"visible": False, "showgrid": False, "zeroline": False}
    figure.update_layout(
        # The ranges are a minimum view: plotly widens one of them to fill the panel at the
        # true aspect ratio, so the map uses the whole left side of the wall.
        xaxis={**axis, "range": INITIAL_LON_RANGE},
        yaxis={**axis, "range": INITIAL_LAT_RANGE, "scaleanchor": "x", "scaleratio": LAT_SCALE},
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        paper_bgcolor=BACKGROUND,
        plot_bgcolor=BACKGROUND,
        font={"family": FONT_FAMILY, "color": TEXT, "size": 15},
        hovermode="closest",
        # Plotly fills hover boxes with the marker colour by default, which leaves grey text on
        # the grey of offline stations; one dark box for all keeps every label readable.
        hoverlabel={"bgcolor": PANEL, "bordercolor": GRID, "font": {"color": TEXT, "size": 15}},
        dragmode="pan",
        # Keeps the operator's zoom and pan across data refreshes.
        uirevision="wall-map",
        legend=_MAP_LEGEND,
    )
    figure.add_annotation(text=labels["offshore_hint"], **_OFFSHORE_HINT)
    return figure


def _chart_layout(figure: go.Figure, *, revision: str, title: str = "") -> go.Figure:
    figure.update_layout(
        # The chart names its device so a screenshot or a glance from afar is unambiguous.
        title={"text": title, "x": 0.01, "font": {"size": 18}},
        paper_bgcolor=PANEL,
        plot_bgcolor=PANEL,
        font={"family": FONT_FAMILY, "color": TEXT, "size": 14},
        margin={"l": 64, "r": 16, "t": 48, "b": 56},
        xaxis={"gridcolor": GRID, "zeroline": False},
        yaxis={"gridcolor": GRID, "zeroline": False},
        uirevision=revision,
        showlegend=False,
    )
    return figure


def message_figure(text: str, *, title: str = "") -> go.Figure:
    """An empty chart that says why it is empty, instead of a blank axis grid."""
    figure = go.Figure()
    figure.add_annotation(
        text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 20}
    )
    _chart_layout(figure, revision="message", title=title)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def series_figure(
    series: TelemetrySeries, *, metric_label: str, labels: Mapping[str, str]
) -> go.Figure:
    title = f"{series.device_id} · {metric_label}"
    if not series.points:
        return message_figure(labels["no_data"], title=title)
    # Plotly.js ignores UTC offsets in dates, so convert to naive Vietnam wall-clock time here.
    times = [p.time.astimezone(VIETNAM_TZ).replace(tzinfo=None) for p in series.points]
    unit = UNIT_LABELS.get(series.unit or "", series.unit or "")
    figure = go.Figure(
        go.Scatter(
            x=times,
            y=[p.value for p in series.points],
            mode="lines",
            line={"color": SERIES_COLOUR, "width": 2},
            hovertemplate=f"%{{x|%d/%m %H:%M}}<br>%{{y:.1f}} {unit}<extra></extra>",
            meta="series",
        )
    )
    _chart_layout(figure, revision=f"{series.device_id}:{series.metric}", title=title)
    figure.update_xaxes(title_text=labels["time_axis"], tickformat="%H:%M\n%d/%m")
    figure.update_yaxes(title_text=f"{metric_label} ({unit})" if unit else metric_label)
    return figure
