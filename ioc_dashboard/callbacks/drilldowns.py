"""Drill-downs: a device's series with thresholds and forecast, AQI ranking, traffic, flood
gauges, lighting cabinets with dimming. Only the pane on show is refreshed."""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import dash
from dash import Input, Output, State, html, no_update

from ioc_dashboard import figures, selection
from ioc_dashboard import layout as ids
from ioc_dashboard.api_client import ApiProblemError, WallDataError
from ioc_dashboard.api_models import Forecast, ThresholdRule
from ioc_dashboard.auth import COMMAND_ROLES, language
from ioc_dashboard.i18n import metric_label, texts
from ioc_dashboard.theme import STATUS_COLOURS

if TYPE_CHECKING:
    from ioc_dashboard.callbacks import WallContext

log = logging.getLogger(__name__)


def _fmt(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:g}{unit}"


def register(app: dash.Dash, wall: WallContext) -> None:
    @app.callback(
        *[Output(f"pane-{t}", "style") for t in ids.TABS],
        Input(ids.TAB_BAR_ID, "value"),
    )
    def show_pane(tab: str) -> list[dict[str, str] | None]:
        return [None if t == tab else {"display": "none"} for t in ids.TABS]

    @app.callback(
        Output(ids.DEVICE_TITLE_ID, "children"),
        Output(ids.DEVICE_DETAIL_ID, "children"),
        Output(ids.METRIC_SELECT_ID, "options"),
        Output(ids.METRIC_SELECT_ID, "value"),
        Output(ids.CHART_ID, "figure"),
        Input(ids.SELECTED_STORE_ID, "data"),
        Input(ids.METRIC_SELECT_ID, "value"),
        Input(ids.SLOW_INTERVAL_ID, "n_intervals"),
        State(ids.TAB_BAR_ID, "value"),
    )
    def device_pane(device_id: str | None, metric: str | None, _t: int, tab: str) -> Any:
        labels = texts(language())
        if device_id is None:
            return "—", "", [], None, figures.message_figure(labels["no_station"])
        if tab != "device" and dash.ctx.triggered_id == ids.SLOW_INTERVAL_ID:
            return (no_update,) * 5
        api = wall.auth.api()
        try:
            device = api.device(device_id)
        except WallDataError as exc:
            return device_id, str(exc), [], None, figures.message_figure(labels["api_error"])
        metrics = selection.metrics_of(device.kind)
        metric = metric if metric in metrics else (metrics[0] if metrics else None)
        options = [{"label": metric_label(m, labels), "value": m} for m in metrics]
        detail = [
            html.Span(f"{labels.get(f'kind_{device.kind}', device.kind)} · "),
            html.Span(device.commune_name or "—"),
            html.Span(" · "),
            html.Span(labels[f"status_{device.status}"],
                      style={"color": STATUS_COLOURS[device.status]}),
            html.Span(f" · {labels['last_seen']}: "
                      f"{selection.local_time_text(device.last_seen, labels)}"),
        ]  # fmt: skip
        if metric is None:
            return device.id, detail, options, None, figures.message_figure(labels["no_data"])
        try:
            series = api.telemetry(device.id, metric=metric,
                                   since=selection.telemetry_since(device))  # fmt: skip
        except WallDataError as exc:
            log.warning("wall cannot read telemetry of %s: %s", device.id, exc)
            chart = figures.message_figure(labels["api_error"], title=device.id)
            return device.id, detail, options, metric, chart
        rules: list[ThresholdRule] = []
        forecast: Forecast | None = None
        with suppress(WallDataError):  # a viewer key may not read rules; the series still shows
            rules = selection.applicable_rules(api.thresholds(kind=device.kind, metric=metric),
                                               device)  # fmt: skip
        with suppress(WallDataError):  # no forecast here (or C5 not deployed): no band
            forecast = api.forecast(device.id, metric)
        levels = device.levels.model_dump() if device.levels else None
        chart = figures.series_figure(series, metric_label=metric_label(metric, labels),
                                      labels=labels, rules=rules, forecast=forecast,
                                      levels=levels)  # fmt: skip
        return device.id, detail, options, metric, chart

    @app.callback(
        Output(ids.AQI_CHART_ID, "figure"),
        Output(ids.AQI_ADVICE_ID, "children"),
        Input(ids.TAB_BAR_ID, "value"),
        Input(ids.SLOW_INTERVAL_ID, "n_intervals"),
    )
    def aqi_pane(tab: str, _t: int) -> Any:
        if tab != "aqi":
            return no_update, no_update
        lang = language()
        labels = texts(lang)
        try:
            communes = wall.auth.api().aqi_communes()
        except WallDataError as exc:
            return figures.message_figure(labels["api_error"]), str(exc)
        advice: Any = ""
        if communes:
            band = communes[0].band
            general = band.general.vi if lang == "vi" else band.general.en
            sensitive = band.sensitive.vi if lang == "vi" else band.sensitive.en
            advice = [
                html.Div([html.B(f"{labels['health_advice']}: "), general],
                         style={"borderLeft": f"6px solid {band.hex}"}),
                html.Div([html.B(f"{labels['sensitive']}: "), sensitive]),
            ]  # fmt: skip
        return figures.aqi_ranking_figure(communes, labels=labels, lang=lang), advice

    @app.callback(
        Output(ids.TRAFFIC_CHART_ID, "figure"),
        Input(ids.TAB_BAR_ID, "value"),
        Input(ids.SLOW_INTERVAL_ID, "n_intervals"),
    )
    def traffic_pane(tab: str, _t: int) -> Any:
        if tab != "traffic":
            return no_update
        labels = texts(language())
        try:
            return figures.traffic_figure(wall.auth.api().traffic(), labels=labels)
        except WallDataError:
            return figures.message_figure(labels["api_error"])

    @app.callback(
        Output(ids.GAUGE_CHART_ID, "figure"),
        Input(ids.TAB_BAR_ID, "value"),
        Input(ids.SLOW_INTERVAL_ID, "n_intervals"),
    )
    def flood_pane(tab: str, _t: int) -> Any:
        if tab != "flood":
            return no_update
        labels = texts(language())
        try:
            return figures.gauges_figure(wall.auth.api().gauges(), labels=labels)
        except WallDataError:
            return figures.message_figure(labels["api_error"])

    @app.callback(
        Output(ids.CABINET_TABLE_ID, "children"),
        Input(ids.TAB_BAR_ID, "value"),
        Input(ids.SLOW_INTERVAL_ID, "n_intervals"),
    )
    def lighting_pane(tab: str, _t: int) -> Any:
        if tab != "lighting":
            return no_update
        labels = texts(language())
        try:
            cabinets = wall.auth.api().cabinets()
        except WallDataError as exc:
            return f"{labels['api_error']}: {exc.url}"
        head = [labels[k] for k in ("cabinet", "commune", "layer_status", "dim_level",
                                    "power_kw", "door", "fault")]  # fmt: skip
        rows = [
            html.Tr([html.Td(c.device_id), html.Td(c.commune_name or "—"),
                     html.Td(labels[f"status_{c.status}"]), html.Td(_fmt(c.dim_level)),
                     html.Td(_fmt(c.power)), html.Td(_fmt(c.door_open)),
                     html.Td(_fmt(c.fault_code))])
            for c in cabinets
        ]  # fmt: skip
        return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)])

    @app.callback(
        Output(ids.CABINET_SELECT_ID, "options"),
        Input(ids.TAB_BAR_ID, "value"),
    )
    def cabinet_options(tab: str) -> Any:
        if tab != "lighting":
            return no_update
        try:
            return [c.device_id for c in wall.auth.api().cabinets()]
        except WallDataError:
            return []

    @app.callback(
        Output(ids.DIM_FEEDBACK_ID, "children"),
        Input(ids.DIM_SEND_ID, "n_clicks"),
        State(ids.CABINET_SELECT_ID, "value"),
        State(ids.DIM_LEVEL_ID, "value"),
        prevent_initial_call=True,
    )
    def send_dim(_n: int, cabinet: str | None, level: int | None) -> str:
        """Through the commands API, as the signed-in person: the API checks the role again."""
        labels = texts(language())
        if not wall.auth.may(COMMAND_ROLES):
            return labels["not_allowed"]
        if not cabinet or level is None:
            return labels["cabinet"]
        try:
            command = wall.auth.api().send_command(cabinet, "dim", {"level": int(level)})
        except ApiProblemError as exc:
            return f"{cabinet}: {exc.detail}"
        except WallDataError as exc:
            return f"{labels['api_error']}: {exc.url}"
        return f"{labels['command_queued']}: {cabinet} dim {level}% ({command.state})"
