"""The live part of the wall: the map layer, the visible box, clicks, the KPI tiles."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import dash
from dash import Input, Output, Patch, State, no_update

from ioc_dashboard import layout as ids
from ioc_dashboard import map_view, tiles
from ioc_dashboard.api_client import WallDataError
from ioc_dashboard.auth import language
from ioc_dashboard.i18n import texts
from ioc_dashboard.kpi_view import kpi_tiles
from ioc_dashboard.selection import local_time_text

if TYPE_CHECKING:
    from ioc_dashboard.callbacks import WallContext

log = logging.getLogger(__name__)
Box = tuple[float, float, float, float]


def _box(data: Any) -> Box | None:
    return tuple(float(v) for v in data) if data else None  # type: ignore[return-value]


def register(app: dash.Dash, ctx: WallContext) -> None:
    @app.callback(
        Output(ids.MAP_ID, "figure"),
        Output(ids.MAP_COUNT_ID, "children"),
        Output(ids.STATUS_ID, "children"),
        Output(ids.STATUS_ID, "className"),
        Input(ids.INTERVAL_ID, "n_intervals"),
        Input(ids.LAYER_ID, "value"),
        Input(ids.MAP_VIEW_STORE, "data"),
        Input(ids.SELECTED_STORE_ID, "data"),
    )
    def refresh_map(_tick: int, layer: str, view: Any, selected: str | None) -> tuple[Any, ...]:
        lang = language()
        labels = texts(lang)
        box = _box(view)
        try:
            wall = ctx.auth.api().wall_map(layer=layer or "status", bbox=box)  # type: ignore[arg-type]
        except WallDataError as exc:
            log.warning("wall cannot read the map: %s", exc)
            return no_update, no_update, f"{labels['api_error']}: {exc.url}", "wall-status error"
        patch = Patch()
        traces = map_view.device_traces(wall, lang=lang, labels=labels, selected=selected)
        for offset, trace in enumerate(traces):
            patch["data"][map_view.MAP_DYNAMIC_OFFSET + offset] = trace.to_plotly_json()
        patch["data"][map_view.NAMES_TRACE]["visible"] = map_view.names_visible(box)
        if ctx.tile_url:
            view_box = box or map_view.INITIAL_BOX
            patch["layout"]["images"] = tiles.tile_images(ctx.tile_url, view_box)
        now = local_time_text(datetime.now().astimezone(), labels)
        count = f"{wall.total:,} {labels['devices_in_view']}".replace(",", "\u202f")
        return patch, count, f"{labels['updated']} {now}", "wall-status"

    @app.callback(
        Output(ids.MAP_VIEW_STORE, "data"),
        Input(ids.MAP_ID, "relayoutData"),
        State(ids.MAP_VIEW_STORE, "data"),
        prevent_initial_call=True,
    )
    def follow_view(relayout: dict[str, Any] | None, current: Any) -> Any:
        box = map_view.view_from_relayout(relayout, _box(current))
        return no_update if box == _box(current) else (list(box) if box else None)

    @app.callback(
        Output(ids.SELECTED_STORE_ID, "data"),
        Output(ids.TAB_BAR_ID, "value"),
        Output(ids.MAP_ID, "figure", allow_duplicate=True),
        Output(ids.MAP_VIEW_STORE, "data", allow_duplicate=True),
        Input(ids.MAP_ID, "clickData"),
        prevent_initial_call=True,
    )
    def on_click(click: dict[str, Any] | None) -> tuple[Any, ...]:
        """A device opens its drill-down; a cluster zooms the map to its members."""
        hit = map_view.clicked(click)
        if hit is None:
            return no_update, no_update, no_update, no_update
        what, value = hit
        if what == "device":
            return value, "device", no_update, no_update
        x0, y0, x1, y1 = map_view.zoom_box(tuple(float(v) for v in value.split(",")))  # type: ignore[arg-type]
        patch = Patch()
        patch["layout"]["xaxis"]["range"] = [x0, x1]
        patch["layout"]["yaxis"]["range"] = [y0, y1]
        return no_update, no_update, patch, [x0, y0, x1, y1]

    @app.callback(
        Output(ids.KPI_STRIP_ID, "children"),
        Input(ids.INTERVAL_ID, "n_intervals"),
    )
    def refresh_kpis(_tick: int) -> Any:
        lang = language()
        try:
            kpis = ctx.auth.api().kpis()
        except WallDataError as exc:
            log.warning("wall cannot read KPIs: %s", exc)
            return no_update
        return kpi_tiles(kpis, labels=texts(lang), lang=lang)
