"""The page skeleton of the 1920×1080 wall; ids here are the contract with callbacks and tests.

The layout is built without calling the API, so the wall starts (and shows its map) even while
the API is down; the first interval tick fills in the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import dcc, html

from ioc_dashboard import figures
from ioc_dashboard.i18n import METRICS

MAP_ID = "wall-map"
CHART_ID = "wall-chart"
KPI_ONLINE_ID = "kpi-online"
METRIC_SELECT_ID = "metric-select"
INTERVAL_ID = "wall-interval"
SELECTED_STORE_ID = "selected-device"
SHOWN_STORE_ID = "shown-device"
STATUS_ID = "wall-status"
DEVICE_TITLE_ID = "device-title"
DEVICE_DETAIL_ID = "device-detail"
DEFAULT_METRIC = "pm25"

# The wall is looked at, not worked with: no mode bar, no Plotly logo; scroll zoom stays so an
# operator at the console can still zoom into a district.
MAP_CONFIG: Any = {"displayModeBar": False, "scrollZoom": True, "displaylogo": False}
CHART_CONFIG: Any = {"displayModeBar": False, "displaylogo": False}


def _header(labels: Mapping[str, str]) -> html.Header:
    return html.Header(
        className="wall-header",
        children=[
            html.Div(
                className="wall-titles",
                children=[html.H1(labels["title"]), html.Div(labels["subtitle"])],
            ),
            html.Div(
                className="kpi-strip",
                children=[
                    html.Div(
                        className="kpi",
                        children=[
                            html.Div(labels["kpi_online"], className="kpi-label"),
                            html.Div("– / –", id=KPI_ONLINE_ID, className="kpi-value"),
                        ],
                    ),
                    html.Div(id=STATUS_ID, className="wall-status"),
                ],
            ),
        ],
    )


def _device_panel(labels: Mapping[str, str]) -> html.Section:
    options = [{"label": labels[f"metric_{m}"], "value": m} for m in METRICS]
    return html.Section(
        className="device-panel",
        children=[
            html.Div(labels["station"], className="panel-kicker"),
            html.H2("—", id=DEVICE_TITLE_ID),
            html.Div(id=DEVICE_DETAIL_ID, className="device-detail"),
            html.Label(labels["metric"], htmlFor=METRIC_SELECT_ID, className="metric-label"),
            dcc.Dropdown(
                id=METRIC_SELECT_ID,
                options=options,
                value=DEFAULT_METRIC,
                clearable=False,
                searchable=False,
                className="metric-select",
            ),
            dcc.Graph(
                id=CHART_ID,
                figure=figures.message_figure(""),
                config=CHART_CONFIG,
                className="wall-chart",
            ),
        ],
    )


def build_layout(*, labels: Mapping[str, str], refresh_ms: int) -> html.Div:
    return html.Div(
        className="wall",
        children=[
            _header(labels),
            html.Main(
                className="wall-main",
                children=[
                    dcc.Graph(
                        id=MAP_ID,
                        figure=figures.map_figure([], selected_id=None, labels=labels),
                        config=MAP_CONFIG,
                        className="wall-map",
                    ),
                    _device_panel(labels),
                ],
            ),
            dcc.Interval(id=INTERVAL_ID, interval=refresh_ms, n_intervals=0),
            dcc.Store(id=SELECTED_STORE_ID, data=None),
            dcc.Store(id=SHOWN_STORE_ID, data=None),
        ],
    )
