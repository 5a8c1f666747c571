"""The page skeleton; ids here are the contract with callbacks and the browser tests.

The layout is built per page load (language and role come from the session) without calling
the API, so the wall starts and shows its map even while the API is down; the first interval
tick fills in the data. Controls a role may not use are not rendered at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import dcc, html

from ioc_dashboard import figures, map_view
from ioc_dashboard.auth import ALERT_ROLES, COMMAND_ROLES, THRESHOLD_ROLES, UserSession
from ioc_dashboard.i18n import Language
from ioc_dashboard.threshold_form import SEVERITIES

MAP_ID = "wall-map"
LAYER_ID = "map-layer"
MAP_COUNT_ID = "map-count"
MAP_VIEW_STORE = "map-view"
MAP_DRAWN_STORE = "map-drawn"  # digest of what the map shows: an unchanged tick redraws nothing
CHART_ID = "wall-chart"
KPI_STRIP_ID = "kpi-strip"
METRIC_SELECT_ID = "metric-select"
INTERVAL_ID = "wall-interval"
SLOW_INTERVAL_ID = "wall-slow-interval"
SELECTED_STORE_ID = "selected-device"
STATUS_ID = "wall-status"
DEVICE_TITLE_ID = "device-title"
DEVICE_DETAIL_ID = "device-detail"
ALERT_LIST_ID = "alert-list"
ALERT_SELECTED_STORE = "alert-selected"
ALERT_NOTE_ID = "alert-note"
ALERT_FEEDBACK_ID = "alert-feedback"
ALERT_ACTIONS = ("acknowledge", "resolve", "comment")
RINGING_STORE = "ringing-alerts"
ALERTS_DRAWN_STORE = "alerts-drawn"
SOUND_TOGGLE_ID = "sound-toggle"
AUDIO_ID = "alert-sound"
TAB_BAR_ID = "drill-tabs"
TABS = ("device", "aqi", "traffic", "flood", "lighting", "thresholds")
AQI_CHART_ID = "aqi-chart"
AQI_ADVICE_ID = "aqi-advice"
TRAFFIC_CHART_ID = "traffic-chart"
GAUGE_CHART_ID = "gauge-chart"
CABINET_TABLE_ID = "cabinet-table"
CABINET_SELECT_ID = "cabinet-select"
DIM_LEVEL_ID = "dim-level"
DIM_SEND_ID = "dim-send"
DIM_FEEDBACK_ID = "dim-feedback"
RULE_SELECT_ID = "th-rule"
PREVIEW_ID = "th-preview"
SAVE_ID = "th-save"
PREVIEW_RESULT_ID = "th-preview-result"
THRESHOLD_FEEDBACK_ID = "th-feedback"
SOUND_URL = "/assets/alert.wav"

# The wall is looked at, not worked with: no mode bar, no Plotly logo; scroll zoom stays so an
# operator at the console can still zoom into a district.
MAP_CONFIG: Any = {"displayModeBar": False, "scrollZoom": True, "displaylogo": False}
CHART_CONFIG: Any = {"displayModeBar": False, "displaylogo": False}


def action_id(action: str) -> str:
    return f"alert-{action}"


def field_id(field: str) -> str:
    return f"th-{field}"


def error_id(field: str) -> str:
    return f"th-err-{field}"


def _header(labels: Mapping[str, str], lang: Language, user: UserSession | None) -> html.Header:
    other = "en" if lang == "vi" else "vi"
    who = (
        [html.Span(f"{user.name} · {user.role}", id="wall-user"),
         html.A(labels["sign_out"], href="/logout", id="sign-out", className="header-link")]
        if user else
        [html.Span(labels["read_only"], id="wall-user"),
         html.A(labels["sign_in"], href="/login", id="sign-in", className="header-link")]
    )  # fmt: skip
    return html.Header(className="wall-header", children=[
        html.Div(className="wall-titles",
                 children=[html.H1(labels["title"], id="wall-title"),
                           html.Div(labels["subtitle"])]),
        html.Div(id=STATUS_ID, className="wall-status"),
        html.Div(className="wall-controls", children=[
            *who,
            html.A(labels["other_language"], href=f"/lang/{other}", id="lang-toggle",
                   className="header-link"),
        ]),
    ])  # fmt: skip


def _map_pane(labels: Mapping[str, str], lang: Language) -> html.Section:
    return html.Section(className="map-pane", children=[
        html.Div(className="map-bar", children=[
            html.Span(labels["layer"], className="map-bar-label"),
            dcc.RadioItems(
                id=LAYER_ID, value="status", inline=True, className="layer-switch",
                options=[{"label": labels[f"layer_{k}"], "value": k}
                         for k in ("status", "aqi", "alerts")],
            ),
            html.Span(id=MAP_COUNT_ID, className="map-count"),
        ]),
        dcc.Graph(id=MAP_ID, figure=map_view.map_figure(labels=labels, lang=lang),
                  config=MAP_CONFIG, className="wall-map"),
    ])  # fmt: skip


def _alert_panel(labels: Mapping[str, str], role: str | None) -> html.Section:
    actions: list[Any] = []
    if role in ALERT_ROLES:
        actions = [
            dcc.Input(id=ALERT_NOTE_ID, placeholder=labels["note_placeholder"], debounce=False,
                      className="alert-note"),
            *[html.Button(labels[a], id=action_id(a), n_clicks=0, className=f"btn btn-{a}")
              for a in ALERT_ACTIONS],
        ]  # fmt: skip
    return html.Section(className="alert-panel", children=[
        html.Div(className="panel-head", children=[
            html.H2(labels["alerts_title"]),
            dcc.Checklist(id=SOUND_TOGGLE_ID, options=[{"label": labels["sound"], "value": "on"}],
                          value=[], className="sound-toggle"),
        ]),
        html.Div(id=ALERT_LIST_ID, className="alert-list"),
        html.Div(className="alert-actions", children=actions),
        html.Div(id=ALERT_FEEDBACK_ID, className="feedback"),
        html.Audio(id=AUDIO_ID, src=SOUND_URL, preload="auto"),
    ])  # fmt: skip


def _graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=figures.message_figure(""), config=CHART_CONFIG,
                     className="drill-chart")  # fmt: skip


def _device_pane(labels: Mapping[str, str]) -> list[Any]:
    return [
        html.H2("—", id=DEVICE_TITLE_ID),
        html.Div(id=DEVICE_DETAIL_ID, className="device-detail"),
        dcc.Dropdown(id=METRIC_SELECT_ID, options=[], value=None, clearable=False,
                     searchable=False, className="metric-select", placeholder=labels["metric"]),
        _graph(CHART_ID),
    ]  # fmt: skip


def _lighting_pane(labels: Mapping[str, str], role: str | None) -> list[Any]:
    controls: list[Any] = [html.Div(labels["not_allowed"], className="muted")]
    if role in COMMAND_ROLES:
        controls = [
            dcc.Dropdown(id=CABINET_SELECT_ID, options=[], placeholder=labels["cabinet"],
                         className="cabinet-select"),
            html.Label(labels["dim_level"]),
            dcc.Slider(id=DIM_LEVEL_ID, min=0, max=100, step=10, value=70),
            html.Button(labels["send_dim"], id=DIM_SEND_ID, n_clicks=0, className="btn"),
            html.Div(id=DIM_FEEDBACK_ID, className="feedback"),
        ]  # fmt: skip
    return [html.Div(id=CABINET_TABLE_ID, className="cabinet-table"), *controls]


def _threshold_pane(labels: Mapping[str, str], role: str | None) -> list[Any]:
    if role not in THRESHOLD_ROLES:
        return [html.Div(labels["not_allowed"], className="muted")]

    def field(name: str, label: str, control: Any) -> html.Div:
        return html.Div(className="th-field", children=[
            html.Label(label, htmlFor=field_id(name)), control,
            html.Div(id=error_id(name), className="field-error"),
        ])  # fmt: skip

    def number(name: str) -> dcc.Input:
        return dcc.Input(id=field_id(name), type="number", debounce=True, className="th-input")

    return [
        dcc.Dropdown(id=RULE_SELECT_ID, options=[], placeholder=labels["rule"],
                     className="rule-select"),
        html.Div(className="th-form", children=[
            field("name", labels["rule_name"], dcc.Input(id=field_id("name"), type="text",
                                                         className="th-input")),
            *[field(s, f"{labels['levels']}: {labels[f'sev_{s}']}",
                    number(s)) for s in SEVERITIES],
            field("clear_level", labels["clear_level"], number("clear_level")),
            field("min_duration_s", labels["min_duration"],
                  number("min_duration_s")),
            field("window", labels["window"], dcc.Dropdown(
                id=field_id("window"), clearable=False, searchable=False,
                options=["instant", "1h_mean", "8h_running_mean", "24h_mean"])),
            field("enabled", labels["enabled"], dcc.Checklist(
                id=field_id("enabled"), options=[{"label": "", "value": "on"}], value=[])),
            field("reason", labels["reason"], dcc.Input(id=field_id("reason"), type="text",
                                                        className="th-input th-reason")),
        ]),
        html.Div(className="th-buttons", children=[
            html.Button(labels["preview"], id=PREVIEW_ID, n_clicks=0, className="btn"),
            html.Button(labels["save"], id=SAVE_ID, n_clicks=0, className="btn btn-primary"),
        ]),
        html.Div(id=PREVIEW_RESULT_ID, className="preview-result"),
        html.Div(id=THRESHOLD_FEEDBACK_ID, className="feedback"),
    ]  # fmt: skip


def _drilldowns(labels: Mapping[str, str], role: str | None) -> html.Section:
    panes = {
        "device": _device_pane(labels),
        "aqi": [html.Div(id=AQI_ADVICE_ID, className="aqi-advice"), _graph(AQI_CHART_ID)],
        "traffic": [_graph(TRAFFIC_CHART_ID)],
        "flood": [_graph(GAUGE_CHART_ID)],
        "lighting": _lighting_pane(labels, role),
        "thresholds": _threshold_pane(labels, role),
    }
    return html.Section(className="drill-panel", children=[
        dcc.RadioItems(id=TAB_BAR_ID, value="device", inline=True, className="tab-bar",
                       options=[{"label": labels[f"tab_{t}"], "value": t} for t in TABS]),
        *[html.Div(id=f"pane-{t}", className="drill-pane",
                   style=None if t == "device" else {"display": "none"}, children=panes[t])
          for t in TABS],
    ])  # fmt: skip


def build_layout(
    *, labels: Mapping[str, str], lang: Language, user: UserSession | None, refresh_ms: int
) -> html.Div:
    role = user.role if user else None
    return html.Div(className="wall", lang=lang, children=[
        _header(labels, lang, user),
        html.Section(id=KPI_STRIP_ID, className="kpi-strip"),
        html.Main(className="wall-main", children=[
            _map_pane(labels, lang),
            html.Div(className="side-pane",
                     children=[_alert_panel(labels, role), _drilldowns(labels, role)]),
        ]),
        dcc.Interval(id=INTERVAL_ID, interval=refresh_ms, n_intervals=0),
        # Drill-down charts change slowly and cost more to build: a third of the live rate.
        dcc.Interval(id=SLOW_INTERVAL_ID, interval=refresh_ms * 3, n_intervals=0),
        dcc.Store(id=SELECTED_STORE_ID, data=None),
        dcc.Store(id=ALERT_SELECTED_STORE, data=None),
        dcc.Store(id=MAP_VIEW_STORE, data=None),
        dcc.Store(id=MAP_DRAWN_STORE, data=None),
        dcc.Store(id=RINGING_STORE, data=[]),
        dcc.Store(id=ALERTS_DRAWN_STORE, data=None),
    ])  # fmt: skip
