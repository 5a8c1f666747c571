"""Optional raster tiles under the map, from a tile server the deployment names.

Off by default: a government network may have no Internet, and the wall must not even try an
outside host. With ``IOC_WALL_TILE_URL`` set (an XYZ template such as an in-house server's
``http://tiles.ioc.local/{z}/{x}/{y}.png``) the tiles covering the view are laid under the plot
as layout images. Each tile is placed by its lon/lat corners on the map's linear lat axis; over
one tile at zoom ≥ 9 (≤ 80 km) the Mercator stretch inside it is below a pixel on the wall.
"""

from __future__ import annotations

import math
from typing import Any, Final

# Enough tiles to cover a 4K wall at a zoom where labels are legible, few enough to load fast.
MAX_TILES: Final = 24
MAX_ZOOM: Final = 18


def _tile_x(lon: float, z: int) -> int:
    return int((lon + 180) / 360 * 2**z)


def _tile_y(lat: float, z: int) -> int:
    rad = math.radians(lat)
    return int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * 2**z)


def _lon(x: int, z: int) -> float:
    return x / 2**z * 360 - 180


def _lat(y: int, z: int) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / 2**z))))


def tile_images(url: str, bbox: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """Layout images for the tiles covering ``bbox`` at the finest zoom within MAX_TILES."""
    x0, y0, x1, y1 = bbox
    for z in range(MAX_ZOOM, -1, -1):
        tx0, tx1 = _tile_x(x0, z), _tile_x(x1, z)
        ty0, ty1 = _tile_y(y1, z), _tile_y(y0, z)  # tile rows count down from the north
        if (tx1 - tx0 + 1) * (ty1 - ty0 + 1) <= MAX_TILES:
            break
    images = []
    for tx in range(tx0, tx1 + 1):
        for ty in range(ty0, ty1 + 1):
            west, north = _lon(tx, z), _lat(ty, z)
            images.append({
                "source": url.format(z=z, x=tx, y=ty), "xref": "x", "yref": "y",
                "x": west, "y": north, "sizex": _lon(tx + 1, z) - west,
                "sizey": north - _lat(ty + 1, z), "sizing": "stretch", "layer": "below",
                "xanchor": "left", "yanchor": "top", "opacity": 0.85,
            })  # fmt: skip
    return images
