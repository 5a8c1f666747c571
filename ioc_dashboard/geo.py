"""The commune layer the map is drawn on, read from the package so the wall works offline.

Boundaries become one line trace with ``None`` between rings: one trace of ~11k points renders
and pans far faster than 114 traces (or 270 rings) would, and it never changes, so it is built
once per process and reused by every figure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import plotly.graph_objects as go

DATA_PACKAGE = "devices.data"
COMMUNES_FILE = "communes.geojson"
OUTLINE_FILE = "city_outline.geojson"


@dataclass(frozen=True, slots=True)
class Commune:
    code: str
    name: str
    kind: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class RingLines:
    """Rings flattened to x/y sequences, each ring followed by a ``None`` break."""

    lons: tuple[float | None, ...]
    lats: tuple[float | None, ...]
    ring_count: int


def read_geojson(name: str) -> dict[str, Any]:
    text = resources.files(DATA_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


def _ring_lines(collection: dict[str, Any]) -> RingLines:
    lons: list[float | None] = []
    lats: list[float | None] = []
    rings = 0
    for feature in collection["features"]:
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                lons.extend(point[0] for point in ring)
                lats.extend(point[1] for point in ring)
                lons.append(None)
                lats.append(None)
                rings += 1
    return RingLines(lons=tuple(lons), lats=tuple(lats), ring_count=rings)


@cache
def communes() -> tuple[Commune, ...]:
    return tuple(
        Commune(
            code=f["properties"]["code"],
            name=f["properties"]["name"],
            kind=f["properties"]["kind"],
            lat=float(f["properties"]["lat"]),
            lon=float(f["properties"]["lon"]),
        )
        for f in read_geojson(COMMUNES_FILE)["features"]
    )


@cache
def commune_lines() -> RingLines:
    return _ring_lines(read_geojson(COMMUNES_FILE))


@cache
def outline_lines() -> RingLines:
    return _ring_lines(read_geojson(OUTLINE_FILE))


def boundary_trace(lines: RingLines, *, color: str, width: float, meta: str) -> go.Scatter:
    """Plain SVG lines, not WebGL: a static layer gains nothing from GL and stays crisp."""
    return go.Scatter(
        x=lines.lons,
        y=lines.lats,
        mode="lines",
        line={"color": color, "width": width},
        hoverinfo="skip",
        showlegend=False,
        meta=meta,
    )


def centroid_trace(items: tuple[Commune, ...], *, color: str, meta: str) -> go.Scattergl:
    """Near-invisible points so hovering a commune's middle names it, without map labels.

    WebGL like the device markers, and placed after them in the figure: Plotly breaks hover
    ties between GL traces in trace order, so a device sitting on a centroid still wins.
    """
    return go.Scattergl(
        x=[c.lon for c in items],
        y=[c.lat for c in items],
        mode="markers",
        marker={"size": 14, "color": color, "opacity": 0.01},
        text=[c.name for c in items],
        hovertemplate="%{text}<extra></extra>",
        showlegend=False,
        meta=meta,
    )
