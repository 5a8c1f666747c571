"""Stations near each other: who counts as a neighbour of whom, from registry coordinates."""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def nearest(
    origin: tuple[float, float],
    candidates: dict[str, tuple[float, float]],
    *,
    radius_km: float,
    limit: int,
    exclude: str,
) -> list[str]:
    """Up to ``limit`` candidates within ``radius_km``, nearest first."""
    found = sorted(
        (distance_km(origin, where), device_id)
        for device_id, where in candidates.items()
        if device_id != exclude
    )
    return [device_id for d, device_id in found if d <= radius_km][:limit]
