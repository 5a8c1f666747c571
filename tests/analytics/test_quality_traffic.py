"""Congestion on realistic traffic: two weekdays of rush hours (the morning peak saturating
the road: speed down to ~55 % of free flow, occupancy ~40 %) stay quiet; a 40-minute jam
(occupancy 85-96 %, 3-8 km/h) opens within its first ten minutes and clears after it."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from analytics.alerts import Reading
from analytics.quality.traffic import CongestionDetector
from tests.analytics.test_quality_signals import OU, START, local_hour, minutes, run


def rhythm(at: datetime) -> float:
    h = local_hour(at)
    return 0.15 + 2.4 * math.exp(-((h - 7.5) ** 2) / 1.5) + 2.0 * math.exp(-((h - 17.5) ** 2) / 2) \
        + 0.9 * (6 <= h <= 21)  # fmt: skip


def camera(device: str, hours: float, *, seed: int = 1, jam=None) -> list[Reading]:
    rng = random.Random(seed)
    noise = OU(rng, 0.1, 1800)
    free = rng.uniform(38, 50)
    out = []
    for at in minutes(START, hours):
        level = rhythm(at) * math.exp(noise.step(60))
        sat = min(1.0, level / 2.6)
        values = {
            "occupancy": round(min(100.0, 4 + 38 * sat**1.5 + rng.gauss(0, 1)), 1),
            "mean_speed": round(max(5.0, free * (1 - 0.45 * sat**3) + rng.gauss(0, 1.5)), 1),
            "queue_length": float(round(max(0.0, 60 * sat**3 + rng.gauss(0, 3)))),
            "count_motorbike_in": float(round(40 * level)), "camera_health": 1.0,
        }  # fmt: skip
        if jam and jam[0] <= at < jam[1]:
            values.update(occupancy=round(rng.uniform(85, 96), 1),
                          mean_speed=round(rng.uniform(3, 8), 1),
                          queue_length=float(round(rng.uniform(250, 600))))  # fmt: skip
        out += [Reading(device, "sxd", "traffic_camera", None, m, at, v) for m, v in values.items()]
    return out


def test_rush_hours_are_not_congestion() -> None:
    streams = [camera(f"cam-{i}", 48, seed=i) for i in range(4)]
    peak = max(r.value for s in streams for r in s if r.metric == "occupancy")
    assert peak > 35  # the baseline does reach saturation
    for stream in streams:
        assert run(CongestionDetector(), stream) == []


def test_jam_opens_within_ten_minutes_and_clears() -> None:
    start = START + timedelta(hours=26)
    jam = (start, start + timedelta(minutes=40))
    found = run(CongestionDetector(), camera("cam-1", 30, jam=jam))
    assert [f.active for f in found] == [True, False]
    opened, cleared = found
    assert jam[0] < opened.time <= jam[0] + timedelta(minutes=10)
    assert opened.severity == "critical"  # crawling, the zone nearly full
    assert "of the last 10 minutes congested" in opened.reason
    assert jam[1] < cleared.time <= jam[1] + timedelta(minutes=10)


def test_an_unhealthy_camera_is_not_judged() -> None:
    start = START + timedelta(hours=26)
    stream = camera("cam-1", 30, jam=(start, start + timedelta(minutes=40)))
    blind = [
        Reading(r.device_id, r.tenant_id, r.kind, None, r.metric, r.time, 0.0)
        if r.metric == "camera_health" else r
        for r in stream
    ]  # fmt: skip
    assert run(CongestionDetector(), blind) == []
