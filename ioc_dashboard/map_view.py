"""The city map: commune boundaries and names drawn once, devices or clusters patched in.

The map is a cartesian lon/lat plot rather than a tile map: the wall must work with no
Internet, and at city scale an equirectangular view corrected by cos(latitude) is
indistinguishable from Web Mercator. Raster tiles are an option (``IOC_WALL_TILE_URL``) laid
under the plot as images (:mod:`ioc_dashboard.tiles`).

The device layer is a fixed number of WebGL traces (one per class, the most a layer has) so a
refresh patches those traces only; the ~250 KB of boundaries goes to the browser once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import plotly.graph_objects as go

from ioc_dashboard import geo
from ioc_dashboard.api_models import LayerClass, WallMap
from ioc_dashboard.i18n import Language
from ioc_dashboard.theme import BACKGROUND, FONT_FAMILY, GRID, PANEL, SELECTED_COLOUR, TEXT

# Latitude of central Hai Phong: one degree of longitude there is cos(20.85°) ≈ 0.93 of a degree
# of latitude on the ground, so the y axis is stretched by the inverse to keep shapes true.
REFERENCE_LAT: Final = 20.85
LAT_SCALE: Final = 1 / math.cos(math.radians(REFERENCE_LAT))
# Opening view: the mainland and Cát Hải with a small margin. Bạch Long Vĩ lies ~70 km offshore
# (107.73 E, 20.13 N); including it would leave two thirds of the wall as empty sea, so it stays
# reachable by panning and a note in the corner says where it is.
INITIAL_LON_RANGE: Final = (106.10, 107.24)
INITIAL_LAT_RANGE: Final = (20.58, 21.26)
INITIAL_BOX: Final = (INITIAL_LON_RANGE[0], INITIAL_LAT_RANGE[0],
                      INITIAL_LON_RANGE[1], INITIAL_LAT_RANGE[1])  # fmt: skip
# Static traces: communes, outline, commune names. Device traces start after them.
NAMES_TRACE: Final = 2
MAP_DYNAMIC_OFFSET: Final = 3
# Commune names show once the view is narrower than this (degrees of longitude): over the
# whole city 114 names overlap into noise and cost a text layout on every pan.
NAMES_BELOW_DEG: Final = 0.45
# The most classes a layer has (AQI: no value + six bands); unused traces stay empty.
DEVICE_TRACES: Final = 7
CLUSTER_PREFIX: Final = "cluster:"

_MAP_LEGEND = {"x": 0.01, "y": 0.99, "bgcolor": BACKGROUND, "bordercolor": GRID, "borderwidth": 1}
_OFFSHORE_HINT: dict[str, Any] = {
    "xref": "paper", "yref": "paper", "x": 0.99, "y": 0.02, "xanchor": "right",
    "yanchor": "bottom", "showarrow": False, "font": {"size": 15, "color": "#8fa9c2"},
}  # fmt: skip


def point_size(count: int) -> int:
    """Big dots for a pilot of dozens, small ones once thousands would cover the city."""
    return 11 if count <= 200 else 7 if count <= 2000 else 4


def cluster_size(count: int) -> float:
    """Logarithmic and capped near the grid's cell width on a 1920 wall (~17 px), so
    neighbouring clusters stay apart and the city's shape shows through."""
    return min(5 + 2.4 * math.log2(count + 1), 20)


def static_traces() -> list[go.Scatter]:
    names = geo.communes()
    return [
        geo.boundary_trace(geo.commune_lines(), color="#38587a", width=0.7, meta="communes"),
        geo.boundary_trace(geo.outline_lines(), color="#6f93b8", width=1.6, meta="outline"),
        # SVG text for 114 names is cheap; faint so devices stay the first thing one sees.
        go.Scatter(
            x=[c.lon for c in names], y=[c.lat for c in names], text=[c.name for c in names],
            mode="text", textfont={"size": 10, "color": "rgba(160,190,220,0.55)"},
            hoverinfo="skip", showlegend=False, meta="commune-names", visible=False,
        ),
    ]  # fmt: skip


def names_visible(box: tuple[float, float, float, float] | None) -> bool:
    return box is not None and box[2] - box[0] < NAMES_BELOW_DEG


def _label(cls: LayerClass, lang: Language) -> str:
    return cls.label_vi if lang == "vi" else cls.label_en


def device_traces(
    wall: WallMap | None, *, lang: Language, labels: Mapping[str, str], selected: str | None
) -> list[go.Scattergl | go.Scatter]:
    """DEVICE_TRACES WebGL traces (one per class, mildest first so the worst draws on top)
    and a ring around the selected device."""
    traces: list[go.Scattergl | go.Scatter] = []
    classes = wall.classes if wall else []
    for i in range(DEVICE_TRACES):
        if i >= len(classes) or wall is None:
            traces.append(go.Scattergl(x=[], y=[], mode="markers", showlegend=False,
                                       meta=f"devices:{i}"))  # fmt: skip
            continue
        cls = classes[i]
        if wall.mode == "points":
            group = [p for p in wall.points if p.cls == cls.key]
            size: Any = point_size(len(wall.points))
            x, y = [p.lon for p in group], [p.lat for p in group]
            custom = [p.id for p in group]
            hover = [f"<b>{p.id}</b><br>{labels.get(f'kind_{p.kind}', p.kind)}" for p in group]
            count = len(group)
        else:
            members = [c for c in wall.clusters if c.cls == cls.key]
            size = [cluster_size(c.count) for c in members]
            x, y = [c.lon for c in members], [c.lat for c in members]
            custom = [CLUSTER_PREFIX + ",".join(f"{v:.5f}" for v in c.bbox) for c in members]
            hover = [_cluster_hover(c.count, c.counts, classes, lang, labels) for c in members]
            count = sum(c.counts.get(cls.key, 0) for c in wall.clusters)
        traces.append(go.Scattergl(
            x=x, y=y, customdata=custom, hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>", mode="markers",
            marker={"size": size, "color": cls.colour, "line": {"width": 0},
                    "opacity": 0.9 if wall.mode == "points" else 0.75},
            name=f"{_label(cls, lang)} ({count})", meta=f"devices:{cls.key}", showlegend=True,
        ))  # fmt: skip
    chosen = [p for p in (wall.points if wall else []) if p.id == selected]
    traces.append(go.Scatter(
        x=[p.lon for p in chosen], y=[p.lat for p in chosen], mode="markers",
        marker={"size": 22, "symbol": "circle-open", "color": SELECTED_COLOUR,
                "line": {"width": 3}},
        hoverinfo="skip", showlegend=False, meta="selected",
    ))  # fmt: skip
    return traces


def _cluster_hover(
    count: int, counts: Mapping[str, int], classes: list[LayerClass], lang: Language,
    labels: Mapping[str, str],
) -> str:  # fmt: skip
    lines = [f"<b>{count}</b> {labels['devices_in_view']}"]
    lines += [f"{_label(c, lang)}: {counts[c.key]}" for c in classes if counts.get(c.key)]
    lines.append(f"<i>{labels['cluster_hint']}</i>")
    return "<br>".join(lines)


def map_figure(*, labels: Mapping[str, str], lang: Language) -> go.Figure:
    data = [*static_traces(), *device_traces(None, lang=lang, labels=labels, selected=None)]
    figure = go.Figure(data=data)
    axis: dict[str, Any] = {"visible": False, "showgrid": False, "zeroline": False}
    figure.update_layout(
        # The ranges are a minimum view: plotly widens one of them to fill the panel at the
        # true aspect ratio, so the map uses the whole of its side of the wall.
        xaxis={**axis, "range": INITIAL_LON_RANGE},
        yaxis={**axis, "range": INITIAL_LAT_RANGE, "scaleanchor": "x", "scaleratio": LAT_SCALE},
        margin={"l": 4, "r": 4, "t": 4, "b": 4},
        paper_bgcolor=BACKGROUND,
        plot_bgcolor=BACKGROUND,
        font={"family": FONT_FAMILY, "color": TEXT, "size": 15},
        hovermode="closest",
        # One dark hover box for all classes keeps every label readable.
        hoverlabel={"bgcolor": PANEL, "bordercolor": GRID, "font": {"color": TEXT, "size": 15}},
        dragmode="pan",
        uirevision="wall-map",  # keeps the operator's zoom and pan across refreshes
        legend=_MAP_LEGEND,
    )
    figure.add_annotation(text=labels["offshore_hint"], **_OFFSHORE_HINT)
    return figure


def clicked(click_data: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """("device", id) or ("cluster", "x0,y0,x1,y1") from a map click; None for the rest."""
    for point in (click_data or {}).get("points", []):
        custom = point.get("customdata")
        if isinstance(custom, str):
            if custom.startswith(CLUSTER_PREFIX):
                return "cluster", custom.removeprefix(CLUSTER_PREFIX)
            return "device", custom
    return None


def view_from_relayout(
    relayout: Mapping[str, Any] | None, current: tuple[float, float, float, float] | None
) -> tuple[float, float, float, float] | None:
    """The visible lon/lat box after a pan or zoom; None (the whole city) after a reset."""
    if not relayout:
        return current
    if relayout.get("xaxis.autorange") or relayout.get("autosize"):
        return None if relayout.get("xaxis.autorange") else current

    def axis(name: str) -> tuple[float, float]:
        # A drag reports "xaxis.range[0]" and "[1]"; Plotly.relayout calls report the pair.
        pair = relayout.get(f"{name}.range") or (relayout[f"{name}.range[0]"],
                                                 relayout[f"{name}.range[1]"])  # fmt: skip
        return float(pair[0]), float(pair[1])

    try:
        (x0, x1), (y0, y1) = axis("xaxis"), axis("yaxis")
    except (KeyError, TypeError, ValueError, IndexError):
        return current
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def zoom_box(bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A cluster's extent with a margin, never narrower than ~1 km, to zoom the map to."""
    x0, y0, x1, y1 = bbox
    half_w = max((x1 - x0) / 2 * 1.4, 0.006)
    half_h = max((y1 - y0) / 2 * 1.4, 0.006)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
