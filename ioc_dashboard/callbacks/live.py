"""The live part of the wall: the map layer, the visible box, clicks, the KPI tiles."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import dash
from dash import Input, Output, Patch, State, no_update

from ioc_dashboard import layout as ids
from ioc_dashboard import map_view, tiles
from ioc_dashboard.api_client import WallDataError
from ioc_dashboard.api_models import WallMap
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


def map_digest(wall: WallMap, *, lang: str, selected: str | None, box: Box | None) -> str:
    """What the map would draw, as a short digest (the box decides names and tiles)."""
    text = f"{wall.model_dump_json()}|{lang}|{selected}|{box}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def register(app: dash.Dash, ctx: WallContext) -> None:
    @app.callback(
        Output(ids.MAP_ID, "figure"),
        Output(ids.MAP_COUNT_ID, "children"),
        Output(ids.STATUS_ID, "children"),
        Output(ids.STATUS_ID, "className"),
        Output(ids.MAP_DRAWN_STORE, "data"),
        Input(ids.INTERVAL_ID, "n_intervals"),
        Input(ids.LAYER_ID, "value"),
        Input(ids.MAP_VIEW_STORE, "data"),
        Input(ids.SELECTED_STORE_ID, "data"),
        State(ids.MAP_DRAWN_STORE, "data"),
    )
    def refresh_map(
        _tick: int, layer: str, view: Any, selected: str | None, drawn: str | None
    ) -> tuple[Any, ...]:
        lang = language()
        labels = texts(lang)
        box = _box(view)
        try:
            wall = ctx.auth.api().wall_map(layer=layer or "status", bbox=box)  # type: ignore[arg-type]
        except WallDataError as exc:
            log.warning("wall cannot read the map: %s", exc)
            message = f"{labels['api_error']}: {exc.url}"
            return no_update, no_update, message, "wall-status error", no_update
        now = local_time_text(datetime.now().astimezone(), labels)
        count = f"{wall.total:,} {labels['devices_in_view']}".replace(",", "\u202f")
        # Redrawing thousands of WebGL marks costs the wall PC a main-thread task; a tick that
        # brings the same picture (the usual case between status changes) redraws nothing.
        digest = map_digest(wall, lang=lang, selected=selected, box=box)
        if digest == drawn:
            return no_update, count, f"{labels['updated']} {now}", "wall-status", no_update
        patch = Patch()
        traces = map_view.device_traces(wall, lang=lang, labels=labels, selected=selected)
        for offset, trace in enumerate(traces):
            patch["data"][map_view.MAP_DYNAMIC_OFFSET + offset] = trace.to_plotly_json()
        patch["data"][map_view.NAMES_TRACE]["visible"] = map_view.names_visible(box)
        if ctx.tile_url:
            view_box = box or map_view.INITIAL_BOX
            patch["layout"]["images"] = tiles.tile_images(ctx.tile_url, view_box)
        return patch, count, f"{labels['updated']} {now}", "wall-status", digest

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
