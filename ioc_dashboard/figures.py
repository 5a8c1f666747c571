"""Drill-down charts from plain data: no Dash, no HTTP, so each one is testable on its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import plotly.graph_objects as go

from ioc_dashboard.api_models import (
    CameraTraffic,
    CommuneAqi,
    Forecast,
    GaugeLevel,
    TelemetrySeries,
    ThresholdRule,
)
from ioc_dashboard.i18n import Language
from ioc_dashboard.selection import VIETNAM_TZ
from ioc_dashboard.theme import (
    FONT_FAMILY,
    GRID,
    PANEL,
    SERIES_COLOUR,
    SEVERITY_COLOURS,
    TEXT,
    TRAFFIC_COLOURS,
    UNIT_LABELS,
)


def _local(moment: datetime) -> datetime:
    """Plotly.js ignores UTC offsets in dates, so hand it naive Vietnam wall-clock time."""
    return moment.astimezone(VIETNAM_TZ).replace(tzinfo=None)


def _chart_layout(figure: go.Figure, *, revision: str, title: str = "") -> go.Figure:
    figure.update_layout(
        # The chart names what it shows so a screenshot or a glance from afar is unambiguous.
        title={"text": title, "x": 0.01, "font": {"size": 18}},
        paper_bgcolor=PANEL,
        plot_bgcolor=PANEL,
        font={"family": FONT_FAMILY, "color": TEXT, "size": 14},
        margin={"l": 64, "r": 16, "t": 48, "b": 48},
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


def rule_lines(rules: Sequence[ThresholdRule]) -> list[tuple[str, float, str]]:
    """(severity, level, rule name) of every numeric level of the enabled rules."""
    lines = []
    for rule in rules:
        if not rule.enabled:
            continue
        for severity, level in rule.levels.items():
            if isinstance(level, int | float):
                lines.append((severity, float(level), rule.name))
    return lines


def series_figure(
    series: TelemetrySeries, *, metric_label: str, labels: Mapping[str, str],
    rules: Sequence[ThresholdRule] = (), forecast: Forecast | None = None,
    levels: Mapping[str, float | None] | None = None,
) -> go.Figure:  # fmt: skip
    """The readings, each threshold level as a dashed line in its severity's colour, a gauge's
    alert/danger levels, and the forecast's P10–P90 band with its median."""
    title = f"{series.device_id} · {metric_label}"
    if not series.points and not (forecast and forecast.items):
        return message_figure(labels["no_data"], title=title)
    unit = UNIT_LABELS.get(series.unit or "", series.unit or "")
    figure = go.Figure()
    if forecast and forecast.items:
        times = [_local(p.time) for p in forecast.items]
        figure.add_trace(
            go.Scatter(
                x=times,
                y=[p.p90 for p in forecast.items],
                mode="lines",
                line={"width": 0},
                hoverinfo="skip",
                meta="forecast-p90",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=times,
                y=[p.p10 for p in forecast.items],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor="rgba(79,195,247,0.18)",
                name=labels["forecast"],
                hoverinfo="skip",
                meta="forecast-p10",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=times,
                y=[p.p50 for p in forecast.items],
                mode="lines",
                line={"color": SERIES_COLOUR, "dash": "dot"},
                name=labels["forecast"],
                meta="forecast-p50",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=[_local(p.time) for p in series.points],
            y=[p.value for p in series.points],
            mode="lines",
            line={"color": SERIES_COLOUR, "width": 2},
            hovertemplate=f"%{{x|%d/%m %H:%M}}<br>%{{y:.1f}} {unit}<extra></extra>",
            meta="series",
        )
    )
    for severity, level, name in rule_lines(rules):
        figure.add_hline(
            y=level,
            line={"color": SEVERITY_COLOURS[severity], "dash": "dash", "width": 1.5},
            annotation_text=f"{labels[f'sev_{severity}']} {level:g}",
            annotation_font_color=SEVERITY_COLOURS[severity],
            name=name,
        )
    for key, colour in (
        ("alert_level", SEVERITY_COLOURS["warning"]),
        ("danger_level", SEVERITY_COLOURS["critical"]),
    ):
        value = (levels or {}).get(key)
        if value is not None:
            figure.add_hline(
                y=value,
                line={"color": colour, "width": 2},
                annotation_text=f"{labels[key]} {value:g}",
                annotation_font_color=colour,
            )
    _chart_layout(figure, revision=f"{series.device_id}:{series.metric}", title=title)
    figure.update_xaxes(title_text=labels["time_axis"], tickformat="%H:%M\n%d/%m")
    figure.update_yaxes(title_text=f"{metric_label} ({unit})" if unit else metric_label)
    return figure  # fmt: skip


def aqi_ranking_figure(
    communes: Sequence[CommuneAqi], *, labels: Mapping[str, str], lang: Language, top: int = 20
) -> go.Figure:
    """Worst communes at the top, each bar in its VN_AQI band's colour."""
    if not communes:
        return message_figure(labels["no_data"], title=labels["tab_aqi"])
    shown = list(communes[:top])[::-1]  # plotly draws the first category at the bottom
    figure = go.Figure(go.Bar(
        x=[c.aqi for c in shown], y=[c.commune_name for c in shown], orientation="h",
        marker={"color": [c.band.hex for c in shown]},
        text=[f"{c.aqi} · {c.band.name_vi if lang == 'vi' else c.band.name_en}" for c in shown],
        textposition="auto", customdata=[c.device_id for c in shown],
        hovertemplate="%{y}: AQI %{x}<br>%{customdata}<extra></extra>", meta="aqi-ranking",
    ))  # fmt: skip
    _chart_layout(figure, revision="aqi", title=labels["tab_aqi"])
    figure.update_layout(margin={"l": 180})
    return figure


def traffic_figure(cameras: Sequence[CameraTraffic], *, labels: Mapping[str, str]) -> go.Figure:
    """Vehicles in the last hour per camera, stacked by class, busiest at the top."""
    if not cameras:
        return message_figure(labels["no_data"], title=labels["tab_traffic"])
    shown = list(cameras)[::-1]
    figure = go.Figure([
        go.Bar(x=[c.by_class.get(cls, 0) for c in shown], y=[c.device_id for c in shown],
               orientation="h", name=cls, marker={"color": colour}, meta=f"traffic:{cls}")
        for cls, colour in TRAFFIC_COLOURS.items()
    ])  # fmt: skip
    _chart_layout(
        figure, revision="traffic", title=f"{labels['tab_traffic']} ({labels['vehicles']})"
    )
    figure.update_layout(barmode="stack", showlegend=True, margin={"l": 140},
                         legend={"orientation": "h", "y": -0.08})  # fmt: skip
    return figure


def gauges_figure(gauges: Sequence[GaugeLevel], *, labels: Mapping[str, str]) -> go.Figure:
    """Each gauge's level as a bar coloured by its state, with its alert and danger levels
    marked, the most threatened first."""
    if not gauges:
        return message_figure(labels["no_data"], title=labels["tab_flood"])
    shown = list(gauges[:25])[::-1]
    colour = {"normal": "#2ecc71", "alert": SEVERITY_COLOURS["warning"],
              "danger": SEVERITY_COLOURS["critical"], "unknown": "#8a949e"}  # fmt: skip
    figure = go.Figure(go.Bar(
        x=[g.water_level or 0 for g in shown], y=[g.device_id for g in shown], orientation="h",
        marker={"color": [colour[g.state] for g in shown]},
        text=[labels[f"gauge_{g.state}"] for g in shown], textposition="auto",
        name=labels["gauge_level"], meta="gauge-level",
    ))  # fmt: skip
    for key, symbol, col in (
        ("alert_level", "line-ns", SEVERITY_COLOURS["warning"]),
        ("danger_level", "line-ns", SEVERITY_COLOURS["critical"]),
    ):
        marks = [(getattr(g, key), g.device_id) for g in shown if getattr(g, key) is not None]
        figure.add_trace(go.Scatter(
            x=[m[0] for m in marks], y=[m[1] for m in marks], mode="markers", name=labels[key],
            marker={"symbol": symbol, "size": 22, "line": {"width": 4, "color": col}},
            meta=f"gauge-{key}",
        ))  # fmt: skip
    _chart_layout(figure, revision="gauges", title=f"{labels['tab_flood']} (cm)")
    figure.update_layout(showlegend=True, margin={"l": 140},
                         legend={"orientation": "h", "y": -0.08})  # fmt: skip
    return figure
