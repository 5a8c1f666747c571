"""Derive the wall's offline commune layer from the unsimplified 2025 boundaries.

The source layer (2 MB, 87k vertices) is too heavy to ship to every browser on each page load,
and the product must run without the shared data directory, so we commit a simplified copy in
``devices/data/``. Re-run this script (it is deterministic) if the source or tolerance changes:

    .venv/bin/python scripts/simplify_geo.py --source-dir /work/shared/data/geo
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape

# Degrees. 0.0004° is ~40 m on the ground: invisible on a city-wide wall, and the smallest
# urban-core wards (Gia Viên, Lê Chân, Ngô Quyền, 5-6 km²) keep 20-30 vertices and their
# recognisable shape. It puts the commune layer at ~250 KB; 0.001° gets it to ~150 KB but
# squares off the inner wards.
DEFAULT_TOLERANCE = 0.0004
# 5 decimals is ~1 m, far below the simplification error, and saves a third of the bytes.
DECIMALS = 5

GENERATED_BY = "scripts/simplify_geo.py"
SOURCE = (
    "thanglequoc/vietnamese-provinces-database (GitHub); shapes from the state reference map "
    "sapnhap.bando.com.vn, simplified by scripts/simplify_geo.py"
)
LICENCE = (
    "MIT (thanglequoc/vietnamese-provinces-database); sapnhap.bando.com.vn states no open "
    "licence of its own"
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE_DIR = Path("/work/shared/data/geo")
DEFAULT_OUT_DIR = REPO_ROOT / "devices" / "data"


def _round_ring(ring: Iterable[Iterable[float]]) -> list[list[float]]:
    """Round and drop the consecutive duplicates that rounding can create."""
    out: list[list[float]] = []
    for x, y, *_ in ring:
        point = [round(x, DECIMALS), round(y, DECIMALS)]
        if not out or out[-1] != point:
            out.append(point)
    return out


def _rounded_geometry(geom: shapely.Geometry) -> dict[str, Any]:
    """Serialise as a MultiPolygon whatever the simplified shape is, so readers see one type."""
    polygons = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
    coords = [
        [_round_ring(poly.exterior.coords), *(_round_ring(r.coords) for r in poly.interiors)]
        for poly in polygons
        if not poly.is_empty
    ]
    return {"type": "MultiPolygon", "coordinates": coords}


def _vertex_count(collection: dict[str, Any]) -> int:
    return sum(
        len(ring)
        for feature in collection["features"]
        for polygon in feature["geometry"]["coordinates"]
        for ring in polygon
    )


def _collection(name: str, features: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "name": name,
        "generated_by": GENERATED_BY,
        "source": SOURCE,
        "licence": LICENCE,
        "features": features,
    }


def simplify_communes(source: Path, tolerance: float) -> dict[str, Any]:
    raw = json.loads(source.read_text(encoding="utf-8"))
    features = []
    for feature in raw["features"]:
        props = feature["properties"]
        # preserve_topology keeps every island and hole (Cát Hải has 158 parts) instead of
        # collapsing small ones, at the price of a few more vertices.
        geom = shape(feature["geometry"]).simplify(tolerance, preserve_topology=True)
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": str(props["ma_xa"]),
                    "name": props["ten"],
                    "kind": props["loai"],
                    "lat": round(float(props["centroid_lat"]), DECIMALS),
                    "lon": round(float(props["centroid_lon"]), DECIMALS),
                },
                "geometry": _rounded_geometry(geom),
            }
        )
    features.sort(key=lambda f: f["properties"]["code"])
    return _collection("haiphong_communes_2025_simplified", features)


def simplify_outline(source: Path, tolerance: float) -> dict[str, Any]:
    raw = json.loads(source.read_text(encoding="utf-8"))
    features = [
        {
            "type": "Feature",
            "properties": {"code": str(f["properties"]["ma_tinh"]), "name": f["properties"]["ten"]},
            "geometry": _rounded_geometry(
                shape(f["geometry"]).simplify(tolerance, preserve_topology=True)
            ),
        }
        for f in raw["features"]
    ]
    return _collection("haiphong_city_outline_2025_simplified", features)


def _write(collection: dict[str, Any], path: Path) -> None:
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n"
    path.write_text(text, encoding="utf-8")
    size_kb = path.stat().st_size / 1024
    print(f"{path}: {_vertex_count(collection)} vertices, {size_kb:.0f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", type=Path, default=DEFAULT_SOURCE_DIR)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="degrees")
    args = parser.parse_args()

    args.out_dir.mkdir(parents=True, exist_ok=True)
    communes = simplify_communes(args.source_dir / "haiphong_communes_2025.geojson", args.tolerance)
    outline = simplify_outline(
        args.source_dir / "haiphong_city_outline_2025.geojson", args.tolerance
    )
    _write(communes, args.out_dir / "communes.geojson")
    _write(outline, args.out_dir / "city_outline.geojson")


if __name__ == "__main__":
    main()
