"""Where simulated devices stand: at commune centroids, urban wards first.

Deterministic for a given seed so a demo, a test and a benchmark see the same city.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from devices.communes import Commune, load_communes

# Spread around a centroid so two stations in one commune do not draw as one dot (~200 m).
_JITTER_DEG = 0.002


@dataclass(frozen=True)
class Site:
    commune: Commune
    lat: float
    lon: float


def spread_sites(count: int, *, seed: int = 7) -> list[Site]:
    """``count`` sites cycling through wards (phường) before communes (xã) and special zones,
    matching where monitoring stations actually concentrate: in the urban core."""
    rng = random.Random(seed)
    order = {"phuong": 0, "xa": 1, "dac_khu": 2}
    communes = sorted(load_communes(), key=lambda c: (order[c.kind], c.no))
    sites = []
    for i in range(count):
        commune = communes[i % len(communes)]
        sites.append(
            Site(
                commune,
                round(commune.lat + rng.uniform(-_JITTER_DEG, _JITTER_DEG), 6),
                round(commune.lon + rng.uniform(-_JITTER_DEG, _JITTER_DEG), 6),
            )
        )
    return sites
