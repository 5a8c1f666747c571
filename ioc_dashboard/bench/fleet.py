"""A city-sized fleet as a registry CSV: every device at a random point inside a commune.

The mix follows what Hai Phong's IOC expects to connect (street lights dominate), so the map
and the KPI reads see realistic proportions. Points come from the communes' own polygons, so
the registry's place checks accept every row, as they would a real inventory.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from typing import Final

import shapely
from shapely.geometry import shape
from shapely.prepared import prep

from ioc_dashboard.geo import COMMUNES_FILE, read_geojson

# Share of the fleet per kind; tenant = the agency that owns the kind.
MIX: Final = (
    ("street_light", 0.60, "sxd"),
    ("lighting_cabinet", 0.05, "sxd"),
    ("water_supply_sensor", 0.12, "capnuoc"),
    ("drainage_sensor", 0.08, "thoatnuoc"),
    ("traffic_camera", 0.06, "sgtvt"),
    ("air_quality_station", 0.04, "sonnmt"),
    ("weather_station", 0.03, "sonnmt"),
    ("water_level_gauge", 0.02, "thoatnuoc"),
)
TENANTS: Final = sorted({tenant for _, _, tenant in MIX})


def _prefix(kind: str) -> str:
    return "".join(part[0] for part in kind.split("_"))


def _points(rng: random.Random, count: int) -> Iterator[tuple[float, float]]:
    """Uniform over the mainland communes' area (Bạch Long Vĩ is a handful of devices)."""
    polygons = [shape(f["geometry"]) for f in read_geojson(COMMUNES_FILE)["features"]]
    areas = [p.area for p in polygons]
    prepared = [prep(p) for p in polygons]
    for _ in range(count):
        i = rng.choices(range(len(polygons)), weights=areas)[0]
        x0, y0, x1, y1 = polygons[i].bounds
        while True:
            lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if prepared[i].contains(shapely.Point(lon, lat)):
                yield lat, lon
                break


def fleet_csv(count: int, *, seed: int = 1) -> tuple[bytes, dict[str, int]]:
    """The CSV ``POST /devices/import`` takes, and how many devices of each kind it holds."""
    rng = random.Random(seed)
    kinds = [kind for kind, share, _ in MIX for _ in range(round(share * count))]
    kinds = (kinds + [MIX[0][0]] * count)[:count]
    tenant_of = {kind: tenant for kind, _, tenant in MIX}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["id", "kind", "tenant", "lat", "lon", "reference_level", "alert_level", "danger_level"]
    )
    counts: dict[str, int] = {}
    for kind, (lat, lon) in zip(kinds, _points(rng, count), strict=True):
        counts[kind] = counts.get(kind, 0) + 1
        levels = ("0", "300", "400") if kind == "water_level_gauge" else ("", "", "")
        writer.writerow([f"{_prefix(kind)}-{counts[kind]:05d}", kind, tenant_of[kind],
                         f"{lat:.6f}", f"{lon:.6f}", *levels])  # fmt: skip
    return out.getvalue().encode(), counts
