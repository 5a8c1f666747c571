"""Realistic clean signals for the quality detectors' tests, and checks that they are so.

Shapes follow the city (ICT clock): PM2.5 with rush hours and correlated (Ornstein-Uhlenbeck)
noise, O3 with daylight, temperature and humidity with the sun and a passing front, water
pressure sagging with demand, drains, street lights and cabinets switched at astral's dusk
and dawn with a midnight dimming step, traffic with rush hours. The detectors must stay quiet
on all of them; each test then injects one fault.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

from analytics.alerts import Finding, Reading
from analytics.quality.sun import sun_times

ICT = timezone(timedelta(hours=7))
START = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # local midnight of 21 Nov
# Six stations within ~15 km of the civic centre, one far away on Bạch Long Vĩ.
STATIONS = {
    "aq-001": (20.8449, 106.6881), "aq-002": (20.8600, 106.7200), "aq-003": (20.8200, 106.6500),
    "aq-004": (20.9000, 106.6800), "aq-005": (20.8100, 106.7300), "aq-006": (20.8800, 106.6300),
    "aq-blv": (20.1330, 107.7300),
}  # fmt: skip


class OU:
    def __init__(self, rng: random.Random, sigma: float, tau_s: float) -> None:
        self.rng, self.sigma, self.tau_s = rng, sigma, tau_s
        self.value = rng.gauss(0, sigma)

    def step(self, dt: float) -> float:
        keep = math.exp(-dt / self.tau_s)
        self.value = self.value * keep + self.sigma * math.sqrt(1 - keep**2) * self.rng.gauss(0, 1)
        return self.value


def local_hour(at: datetime) -> float:
    local = at.astimezone(ICT)
    return local.hour + local.minute / 60


def daylight(at: datetime) -> float:
    rise, set_ = sun_times(20.8449, 106.6881, at.astimezone(ICT).date())
    if not rise <= at <= set_:
        return 0.0
    return math.sin(math.pi * (at - rise) / (set_ - rise))


def synoptic(at: datetime) -> float:
    """Day-to-day weather (-1..1): what makes one Tuesday warmer than the last."""
    days = (at - START).total_seconds() / 86_400
    return (0.5 * math.sin(2 * math.pi * days / 2.3) + 0.3 * math.sin(2 * math.pi * days / 3.7 + 1)
            + 0.2 * math.sin(2 * math.pi * days / 5.1 + 2))  # fmt: skip


def weather(at: datetime) -> dict[str, float]:
    """City-wide weather with a cold front on the second afternoon (a shared departure)."""
    front = 1 / (1 + math.exp(-((at - START).total_seconds() / 3600 - 38) * 1.5))
    sun, syn = daylight(at), synoptic(at)
    return {
        "temperature": 19 + 6 * sun + 2 * syn - 5 * front,
        "humidity": min(100.0, 78 - 18 * sun - 6 * syn + 20 * front),
        "pressure": 1018
        + 1.2 * math.cos(2 * math.pi * (local_hour(at) - 10) / 12)
        - 3 * syn
        + 3 * front,
    }


def minutes(start: datetime, hours: float, step_s: int = 60) -> Iterator[datetime]:
    for i in range(int(hours * 3600 / step_s)):
        yield start + timedelta(seconds=i * step_s)


def readings(device: str, kind: str, at: datetime, values: dict[str, float]) -> list[Reading]:
    return [Reading(device, "sonnmt", kind, None, m, at, v) for m, v in values.items()]


class AirStation:
    def __init__(self, device: str, seed: int, *, urban: float = 1.0) -> None:
        self.device, self.urban = device, urban
        self.rng = random.Random(seed)
        self.slow, self.fast = OU(self.rng, 0.25, 10 * 3600), OU(self.rng, 0.07, 1200)
        self.coarse = self.rng.uniform(1.45, 1.75)

    def sample(self, at: datetime, dt: float = 60) -> dict[str, float]:
        h = local_hour(at)
        rush = math.exp(-((h - 8) ** 2) / 2) + math.exp(-((h - 18) ** 2) / 2.5)
        noise = self.slow.step(dt) + self.fast.step(dt)
        pm25 = 30 * self.urban * (0.7 + 0.6 * rush) * math.exp(noise)
        wx = weather(at)
        o3 = (12 + 80 * daylight(at - timedelta(hours=2)) ** 1.3) * math.exp(self.fast.value)
        return {
            "pm25": round(pm25, 1), "pm10": round(pm25 * self.coarse, 1),
            "no2": round((12 + 22 * rush) * self.urban * math.exp(0.6 * noise), 1),
            "o3": round(o3, 1),
            "temperature": round(wx["temperature"] + self.rng.gauss(0, 0.15), 1),
            "humidity": round(min(100.0, wx["humidity"] + self.rng.gauss(0, 1)), 1),
            "pressure": round(wx["pressure"] + self.rng.gauss(0, 0.2), 1),
        }  # fmt: skip

    def stream(self, start: datetime, hours: float) -> Iterator[Reading]:
        for at in minutes(start, hours):
            yield from readings(self.device, "air_quality_station", at, self.sample(at))


def run(detector: object, stream: Iterator[Reading] | list[Reading], *,
        tick_every: int = 1) -> list[Finding]:  # fmt: skip
    """Feed readings in order, ticking with the latest event time, as the engine does."""
    out: list[Finding] = []
    watermark: datetime | None = None
    for i, r in enumerate(stream):
        out += list(detector.observe(r))  # type: ignore[attr-defined]
        if watermark is None or r.time > watermark:
            watermark = r.time
        if i % tick_every == 0:
            out += list(detector.tick(watermark))  # type: ignore[attr-defined]
    return out


def merged(*streams: Iterator[Reading]) -> list[Reading]:
    return sorted((r for s in streams for r in s), key=lambda r: r.time)


def night_of(day: date) -> tuple[datetime, datetime]:
    return sun_times(20.8449, 106.6881, day)[1], sun_times(
        20.8449, 106.6881, day + timedelta(days=1)
    )[0]


def test_clean_station_signal_is_realistic() -> None:
    """The baseline really has rush hours, daylight ozone and noise (not a flat toy)."""
    st = AirStation("aq-001", 1)
    samples = [(at, st.sample(at)) for at in minutes(START, 24)]
    pm = [v["pm25"] for _, v in samples]
    o3_noon = [v["o3"] for at, v in samples if 13 <= local_hour(at) < 15]
    o3_night = [v["o3"] for at, v in samples if 1 <= local_hour(at) < 4]
    assert max(pm) > 2 * min(pm)
    assert min(o3_noon) > 3 * max(o3_night)
    repeats = sum(1 for a, b in itertools.pairwise(pm) if a == b)
    assert repeats < len(pm) * 0.2
