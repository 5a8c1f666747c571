"""Wiring between the page and the API; decisions live in ``selection`` and ``figures``.

Callbacks are registered on the given app (not with the global ``dash.callback``) so that
several apps can be built in one process, as the tests do, without sharing callbacks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import dash
from dash import Input, Output, Patch, html, no_update

from ioc_dashboard import figures, layout, selection
from ioc_dashboard.api_client import DeviceView, WallApiClient, WallDataError
from ioc_dashboard.theme import STATUS_COLOURS

log = logging.getLogger(__name__)


def _clicked_device_id(click_data: Mapping[str, Any] | None) -> str | None:
    """Only device markers carry a string ``customdata``; clicks on communes are ignored."""
    for point in (click_data or {}).get("points", []):
        custom = point.get("customdata")
        if isinstance(custom, str):
            return custom
    return None


def register_callbacks(app: dash.Dash, client: WallApiClient, labels: Mapping[str, str]) -> None:
    @app.callback(
        Output(layout.SELECTED_STORE_ID, "data"),
        Input(layout.MAP_ID, "clickData"),
        prevent_initial_call=True,
    )
    def select_device(click_data: dict[str, Any] | None) -> Any:
        device_id = _clicked_device_id(click_data)
        return no_update if device_id is None else device_id

    @app.callback(
        Output(layout.MAP_ID, "figure"),
        Output(layout.KPI_ONLINE_ID, "children"),
        Output(layout.SHOWN_STORE_ID, "data"),
        Output(layout.STATUS_ID, "children"),
        Output(layout.STATUS_ID, "className"),
        Input(layout.INTERVAL_ID, "n_intervals"),
        Input(layout.SELECTED_STORE_ID, "data"),
    )
    def refresh_map(_tick: int, selected_id: str | None) -> tuple[Any, ...]:
        try:
            devices = client.devices().items
        except WallDataError as exc:
            log.warning("wall cannot read devices: %s", exc)
            message = f"{labels['api_error']}: {exc.url}"
            return no_update, no_update, no_update, message, "wall-status error"
        shown = selection.pick_device(devices, selected_id)
        patch = Patch()
        traces = figures.map_device_traces(
            devices, selected_id=shown.id if shown else None, labels=labels
        )
        for offset, trace in enumerate(traces):
            patch["data"][figures.MAP_DYNAMIC_OFFSET + offset] = trace.to_plotly_json()
        updated = (
            f"{labels['updated']} {selection.local_time_text(datetime.now().astimezone(), labels)}"
        )
        shown_data = shown.model_dump(mode="json") if shown else None
        return patch, selection.kpi_online_text(devices), shown_data, updated, "wall-status"

    @app.callback(
        Output(layout.CHART_ID, "figure"),
        Output(layout.DEVICE_TITLE_ID, "children"),
        Output(layout.DEVICE_DETAIL_ID, "children"),
        Input(layout.SHOWN_STORE_ID, "data"),
        Input(layout.METRIC_SELECT_ID, "value"),
    )
    def refresh_chart(shown: dict[str, Any] | None, metric: str | None) -> tuple[Any, ...]:
        if shown is None:
            return figures.message_figure(labels["no_station"]), "—", ""
        device = DeviceView.model_validate(shown)
        metric = metric or layout.DEFAULT_METRIC
        detail = [
            html.Span(device.commune_name or "—"),
            html.Span(" · "),
            html.Span(
                selection.status_label(device.status, labels),
                style={"color": STATUS_COLOURS[device.status]},
            ),
            html.Span(
                f" · {labels['last_seen']}: {selection.local_time_text(device.last_seen, labels)}"
            ),
        ]
        try:
            series = client.telemetry(
                device.id, metric=metric, since=selection.telemetry_since(device)
            )
        except WallDataError as exc:
            log.warning("wall cannot read telemetry of %s: %s", device.id, exc)
            chart = figures.message_figure(labels["api_error"], title=device.id)
            return chart, device.id, detail
        chart = figures.series_figure(
            series, metric_label=labels[f"metric_{metric}"], labels=labels
        )
        return chart, device.id, detail
