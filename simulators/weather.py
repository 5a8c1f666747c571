"""City-wide weather: rain events, a typhoon when a scenario asks for one, and what follows.

Every value is a pure function of time and the seed (rain events are drawn once for the whole
span), so a station sampled twice, a history file and a live run agree, and a device's reading
never depends on which other devices exist. Climate figures are Hai Phong's (Phù Liễn station
normals): 16-17 °C in January, 29-30 °C in July, a wet season from May to October with about
85 % of the annual 1,600-1,800 mm, drizzle and 90 % humidity in late winter.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from simulators.sky import ICT, daylight

# Monthly normals, January first.
MEAN_TEMP_C = (16.6, 17.2, 19.8, 23.5, 27.2, 28.9, 29.3, 28.6, 27.6, 25.4, 22.0, 18.5)
MEAN_RH = (82, 88, 90, 89, 85, 84, 85, 87, 84, 79, 77, 78)
MEAN_PRESSURE_HPA = (1020, 1018, 1015, 1012, 1008, 1005, 1004, 1005, 1010, 1015, 1018, 1020)
# Rain events per day and mean peak intensity (mm/h) by month: a few heavy convective
# showers in summer, frequent light drizzle in late winter.
RAIN_EVENTS_PER_DAY = (0.25, 0.4, 0.5, 0.45, 0.5, 0.6, 0.6, 0.7, 0.6, 0.35, 0.2, 0.15)
RAIN_PEAK_MM_H = (1.0, 0.8, 1.2, 3.0, 8.0, 10.0, 11.0, 12.0, 10.0, 6.0, 3.0, 1.5)


@dataclass(frozen=True, slots=True)
class RainEvent:
    start: float  # epoch seconds
    hours: float
    peak_mm_h: float

    def rate(self, t: float) -> float:
        """Triangular hyetograph: rises to the peak at a third of the event, then tails off."""
        x = (t - self.start) / (self.hours * 3600)
        if x <= 0 or x >= 1:
            return 0.0
        return self.peak_mm_h * (x / 0.33 if x < 0.33 else (1 - x) / 0.67)

    @property
    def depth_mm(self) -> float:
        return self.peak_mm_h * self.hours / 2


@dataclass(frozen=True, slots=True)
class Storm:
    """A typhoon's passage (Yagi, September 2024: 100+ mm/6 h, gusts over 40 m/s, ~1 m surge)."""

    start: float
    end: float
    peak_rain_mm_h: float = 60.0
    peak_wind_m_s: float = 33.0
    pressure_drop_hpa: float = 45.0
    surge_cm: float = 120.0

    def intensity(self, t: float) -> float:
        """0 outside, 1 at the eye's closest approach (two thirds into the window)."""
        if t <= self.start or t >= self.end:
            return 0.0
        x = (t - self.start) / (self.end - self.start)
        return math.sin(math.pi * min(1.0, x / 1.33)) ** 2 if x < 0.667 else (1 - x) / 0.333


class Weather:
    def __init__(
        self,
        *,
        seed: int,
        start: datetime,
        end: datetime,
        rain: bool = True,
        rain_scale: float = 1.0,
        storms: tuple[Storm, ...] = (),
    ) -> None:
        self.storms = storms
        self.events = _draw_rain(seed, start, end, rain_scale) if rain else []

    def rain_rate(self, t: float) -> float:
        """mm/h falling on the city at epoch ``t``."""
        rate = sum(e.rate(t) for e in self.events if e.start < t < e.start + e.hours * 3600)
        for storm in self.storms:
            rate += storm.peak_rain_mm_h * storm.intensity(t)
        return rate

    def runoff(self, t: float, *, lag_h: float, gain_cm_per_mm: float) -> float:
        """Rise of a water body fed by the city's rain: each event's depth routed through a
        gamma-shaped unit hydrograph peaking ``lag_h`` after the rain (a river's response)."""
        rise = 0.0
        for event in self.events:
            rise += event.depth_mm * _hydrograph((t - event.start) / 3600, lag_h)
        for storm in self.storms:
            hours = (storm.end - storm.start) / 3600
            depth = storm.peak_rain_mm_h * hours * 0.45
            rise += depth * _hydrograph((t - storm.start) / 3600 - hours * 0.5, lag_h)
        return rise * gain_cm_per_mm

    def surge(self, t: float) -> float:
        return sum(s.surge_cm * s.intensity(t) for s in self.storms)

    def storm(self, t: float) -> float:
        return max((s.intensity(t) for s in self.storms), default=0.0)

    def conditions(self, at: datetime) -> dict[str, float]:
        """Temperature, humidity, pressure and wind for the city at ``at``."""
        t = at.timestamp()
        local = at.astimezone(ICT)
        month = _month_blend(local)
        sun = daylight(at)
        rain = self.rain_rate(t)
        storm = self.storm(t)
        temp = _blend(MEAN_TEMP_C, month) - 2.5 + 5.5 * sun - min(3.0, 0.4 * rain)
        rh = _blend(MEAN_RH, month) + 8 - 18 * sun + min(15.0, 3 * rain)
        hour = local.hour + local.minute / 60
        pressure = _blend(MEAN_PRESSURE_HPA, month) + 1.2 * math.cos(2 * math.pi * (hour - 10) / 12)
        wind = 2.0 + 2.5 * sun + 0.15 * rain
        for s in self.storms:
            pressure -= s.pressure_drop_hpa * s.intensity(t)
            wind += s.peak_wind_m_s * s.intensity(t)
        return {
            "temperature": temp,
            "humidity": max(35.0, min(100.0, rh + 10 * storm)),
            "pressure": pressure,
            "wind_speed": wind,
            "rain_rate": rain,
        }


def _hydrograph(hours_after: float, lag_h: float) -> float:
    """Unit response (per mm) with its peak of 1 at ``lag_h`` hours and a slower recession."""
    if hours_after <= 0:
        return 0.0
    x = hours_after / lag_h
    return float(x**2 * math.exp(2 * (1 - x)))


def _month_blend(local: datetime) -> float:
    """Fractional month index (0 = mid-January) so normals change smoothly across a month."""
    return (local.month - 1) + (local.day - 15) / 30.5


def _blend(table: tuple[float, ...], month: float) -> float:
    lo = math.floor(month)
    frac = month - lo
    return table[lo % 12] * (1 - frac) + table[(lo + 1) % 12] * frac


def _draw_rain(seed: int, start: datetime, end: datetime, scale: float) -> list[RainEvent]:
    """Poisson rain events over [start - 2 days, end], so rivers already carry earlier rain."""
    rng = random.Random(f"rain-{seed}")
    events = []
    day = (start - timedelta(days=2)).astimezone(ICT).replace(hour=0, minute=0, second=0)
    while day < end:
        month = day.month - 1
        for _ in range(_poisson(rng, RAIN_EVENTS_PER_DAY[month])):
            at = day + timedelta(hours=rng.uniform(0, 24))
            peak = rng.expovariate(1 / RAIN_PEAK_MM_H[month]) * scale
            events.append(RainEvent(at.timestamp(), rng.uniform(0.5, 4.0), min(peak, 40.0)))
        day += timedelta(days=1)
    return events


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
