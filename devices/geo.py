"""Where a point lies: inside Hai Phong or not, and in which of its 114 communes.

The shapes in ``devices/data/`` are simplified (tens of metres of error) and, as in their source,
rivers and estuaries are gaps between communes. A gauge on a river bank or a camera on a bridge
is a legitimate device that can fall just outside every polygon, so both checks accept a point
within ``TOLERANCE_M`` of the shape. The sea off the coast and neighbouring provinces are
kilometres away and stay outside.

Geometry is projected once to local metres (equirectangular around the city's centre: under
0.5 % error over the city, Bạch Long Vĩ included, which is far below the tolerance), prepared and
indexed, so a check is a few microseconds and a 20,000-row import does not notice it.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import shapely
from shapely import Geometry, STRtree
from shapely.geometry import shape

__all__ = [
    "TOLERANCE_M",
    "CommuneMatch",
    "commune_at",
    "distance_to_city_m",
    "distance_to_commune_m",
]

_DATA = Path(__file__).resolve().parent / "data"

# How far outside a (simplified) shape a point may lie and still count as inside it. 500 m
# covers simplification error and most river gaps (the Cấm and Lạch Tray are 200-400 m wide
# in the city); it is small against the distance to Hà Nội (~90 km) or open sea.
TOLERANCE_M = 500.0

_LAT0 = 20.85  # the projection's centre, near the old city centre
_LON0 = 106.7
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(_LAT0))


def _project(lon_lat: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(
        lon_lat, lambda xy: (xy - (_LON0, _LAT0)) * (_M_PER_DEG_LON, _M_PER_DEG_LAT)
    )


def _point(lat: float, lon: float) -> Geometry:
    return _project(shapely.Point(lon, lat))


@dataclass(frozen=True, slots=True)
class _Communes:
    codes: tuple[str, ...]
    names: tuple[str, ...]
    shapes: tuple[Geometry, ...]
    tree: STRtree


def _features(name: str) -> list[dict[str, object]]:
    with (_DATA / name).open(encoding="utf-8") as handle:
        features: list[dict[str, object]] = json.load(handle)["features"]
    return features


@functools.cache
def _city() -> Geometry:
    outline = shapely.union_all(
        [_project(shape(f["geometry"])) for f in _features("city_outline.geojson")]
    )
    shapely.prepare(outline)
    return outline


@functools.cache
def _communes() -> _Communes:
    features = _features("communes.geojson")
    shapes = tuple(_project(shape(f["geometry"])) for f in features)
    for geom in shapes:
        shapely.prepare(geom)
    props = [f["properties"] for f in features]
    return _Communes(
        codes=tuple(str(p["code"]) for p in props),  # type: ignore[index]
        names=tuple(str(p["name"]) for p in props),  # type: ignore[index]
        shapes=shapes,
        tree=STRtree(shapes),
    )


@dataclass(frozen=True, slots=True)
class CommuneMatch:
    """The commune a point belongs to; ``distance_m`` is 0 inside it, else the gap it crossed."""

    code: str
    name: str
    distance_m: float


def distance_to_city_m(lat: float, lon: float) -> float:
    """0 inside the city outline or any commune, else metres to the nearer of the two."""
    point = _point(lat, lon)
    city = _city()
    if city.contains(point):
        return 0.0
    nearest = commune_at(lat, lon, tolerance_m=math.inf)
    to_commune = nearest.distance_m if nearest else math.inf
    return min(float(city.distance(point)), to_commune)


def commune_at(lat: float, lon: float, *, tolerance_m: float = TOLERANCE_M) -> CommuneMatch | None:
    """The commune containing the point, else the nearest one within ``tolerance_m``, else None."""
    communes = _communes()
    point = _point(lat, lon)
    inside = communes.tree.query(point, predicate="intersects")
    if len(inside):
        i = int(inside[0])
        return CommuneMatch(communes.codes[i], communes.names[i], 0.0)
    found = communes.tree.query_nearest(
        point, max_distance=None if math.isinf(tolerance_m) else tolerance_m, return_distance=True
    )
    indices, distances = found
    if not len(indices):
        return None
    i = int(indices[0])
    return CommuneMatch(communes.codes[i], communes.names[i], float(distances[0]))


def distance_to_commune_m(code: str, lat: float, lon: float) -> float:
    """Metres from the point to commune ``code`` (0 inside); KeyError for an unknown code."""
    communes = _communes()
    try:
        i = communes.codes.index(code)
    except ValueError:
        raise KeyError(f"no commune shape for code {code!r}") from None
    point = _point(lat, lon)
    shape_ = communes.shapes[i]
    return 0.0 if shape_.contains(point) else float(shape_.distance(point))
