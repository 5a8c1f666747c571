"""Where Hai Phong's field devices stand: gauge stations, traffic corridors, weighted communes.

Coordinates are approximate (±300 m) positions of real places: the hydrological stations on the
coast and the rivers of the merged city (old Hải Dương included), and the freight corridors
from the port to the industrial zones. Used only to place simulated devices.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass

from devices.communes import Commune, CommuneKind, commune_by_code, load_communes
from devices.geo import commune_at
from simulators.signals.water import GaugeSite


@dataclass(frozen=True)
class GaugeStation:
    name: str
    water: str
    lat: float
    lon: float
    site: GaugeSite


def _coast(datum: float = 0.0) -> GaugeSite:
    return GaugeSite(
        tide_factor=1.0,
        tide_lag_h=0.0,
        river_gain_cm_per_mm=0.0,
        river_lag_h=6,
        surge_factor=1.0,
        datum_offset_cm=datum,
    )


def _river(
    tide: float, lag: float, gain: float, rlag: float, surge: float, datum: float
) -> GaugeSite:
    return GaugeSite(
        tide_factor=tide,
        tide_lag_h=lag,
        river_gain_cm_per_mm=gain,
        river_lag_h=rlag,
        surge_factor=surge,
        datum_offset_cm=datum,
    )


GAUGE_STATIONS: tuple[GaugeStation, ...] = (
    GaugeStation("Hòn Dấu", "coast", 20.6680, 106.8120, _coast()),
    GaugeStation("Cát Bà", "coast", 20.7270, 107.0480, _coast(3.0)),
    GaugeStation("Bạch Long Vĩ", "open sea", 20.1350, 107.7250, _coast(-2.0)),
    GaugeStation("Lạch Huyện", "estuary", 20.8100, 106.8900, _coast(2.0)),
    GaugeStation("Cửa Cấm", "Cấm river", 20.8660, 106.6850, _river(0.95, 0.8, 0.5, 10, 0.9, 8)),
    GaugeStation(
        "Đình Vũ", "Bạch Đằng estuary", 20.8450, 106.7800, _river(1.0, 0.4, 0.2, 8, 1.0, 4)
    ),
    GaugeStation(
        "Kiến An", "Lạch Tray river", 20.8260, 106.6250, _river(0.9, 1.2, 0.8, 8, 0.8, 10)
    ),
    GaugeStation(
        "Bạch Đằng", "Bạch Đằng river", 20.9500, 106.7500, _river(0.85, 1.0, 0.6, 10, 0.8, 8)
    ),
    GaugeStation(
        "Trung Trang", "Văn Úc river", 20.7950, 106.5350, _river(0.8, 1.6, 0.9, 12, 0.7, 14)
    ),
    GaugeStation(
        "Tiên Lãng", "Văn Úc river", 20.7350, 106.5700, _river(0.85, 1.3, 0.8, 12, 0.8, 10)
    ),
    GaugeStation(
        "Chanh Chử", "Thái Bình river", 20.6800, 106.4700, _river(0.7, 2.0, 1.0, 14, 0.6, 18)
    ),
    GaugeStation(
        "Bến Bình", "Kinh Thầy river", 20.9900, 106.5500, _river(0.6, 2.4, 1.1, 16, 0.5, 25)
    ),
    GaugeStation(
        "Thanh Hà", "Thái Bình river", 20.8900, 106.4500, _river(0.6, 2.5, 1.1, 16, 0.5, 25)
    ),
    GaugeStation("Ninh Giang", "Luộc river", 20.7350, 106.3900, _river(0.5, 3.0, 1.2, 18, 0.4, 35)),
    GaugeStation(
        "Hải Dương", "Thái Bình river", 20.9550, 106.3400, _river(0.45, 3.2, 1.3, 20, 0.35, 45)
    ),
    GaugeStation(
        "Phả Lại", "Thái Bình river", 21.1150, 106.3000, _river(0.35, 4.0, 1.5, 24, 0.25, 60)
    ),
)

# Freight and commuter corridors (waypoints lat, lon); the first three serve the port.
CORRIDORS: tuple[tuple[str, bool, tuple[tuple[float, float], ...]], ...] = (
    ("Đình Vũ", True, ((20.846, 106.720), (20.840, 106.770), (20.835, 106.810))),
    ("Tân Vũ - Lạch Huyện", True, ((20.835, 106.810), (20.815, 106.870), (20.800, 106.920))),
    ("QL5", True, ((20.870, 106.640), (20.905, 106.560), (20.935, 106.450), (20.945, 106.350))),
    ("Cao tốc Hà Nội - Hải Phòng", True, ((20.820, 106.750), (20.780, 106.620), (20.740, 106.500))),
    ("Lê Hồng Phong", False, ((20.860, 106.680), (20.845, 106.720))),
    ("QL10", False, ((20.820, 106.640), (20.740, 106.560), (20.680, 106.480))),
    ("Bến Rừng - VSIP", True, ((20.870, 106.685), (20.910, 106.650), (20.950, 106.700))),
    ("Tràng Duệ", True, ((20.860, 106.590), (20.800, 106.580))),
)

# How much more likely a ward is to hold a given device than a rural commune.
DENSITY = {CommuneKind.PHUONG: 4.0, CommuneKind.XA: 1.0, CommuneKind.DAC_KHU: 1.5}
_M_PER_DEG = 111_320.0


@functools.cache
def _nearest(lat: float, lon: float) -> Commune:
    match = commune_at(lat, lon, tolerance_m=3000)
    if match is not None:
        return commune_by_code(match.code)
    return min(load_communes(), key=lambda c: (c.lat - lat) ** 2 + (c.lon - lon) ** 2)


def commune_of(lat: float, lon: float) -> Commune:
    """The commune a point is in, or the nearest one (a gauge in a river gap, an island)."""
    return _nearest(round(lat, 4), round(lon, 4))


def jitter(rng: random.Random, lat: float, lon: float, metres: float) -> tuple[float, float]:
    r = metres * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    dlat = r * math.cos(a) / _M_PER_DEG
    dlon = r * math.sin(a) / (_M_PER_DEG * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def weighted_communes(rng: random.Random, count: int, *, islands: bool = True) -> list[Commune]:
    """``count`` communes, every unit once before any repeats (so the whole city is covered
    when ``count`` >= 114), then drawn with ward-heavy weights."""
    communes = [c for c in load_communes() if islands or c.kind != CommuneKind.DAC_KHU]
    order = sorted(communes, key=lambda c: (-DENSITY[c.kind], c.no))
    if count <= len(order):
        # Not enough for every unit: wards first, but keep both island zones in.
        head = [c for c in order if c.kind == CommuneKind.DAC_KHU][: max(0, min(2, count // 10))]
        rest = [c for c in order if c not in head]
        return (head + rest)[:count]
    weights = [DENSITY[c.kind] for c in communes]
    return order + rng.choices(communes, weights=weights, k=count - len(order))


def corridor_points(rng: random.Random, count: int) -> list[tuple[str, bool, float, float]]:
    """``count`` positions along the corridors, spread evenly by corridor then by length."""
    out = []
    for i in range(count):
        name, port, points = CORRIDORS[i % len(CORRIDORS)]
        seg = rng.randrange(len(points) - 1)
        f = rng.random()
        (a_lat, a_lon), (b_lat, b_lon) = points[seg], points[seg + 1]
        lat, lon = a_lat + f * (b_lat - a_lat), a_lon + f * (b_lon - a_lon)
        out.append((name, port, *jitter(rng, lat, lon, 60)))
    return out
