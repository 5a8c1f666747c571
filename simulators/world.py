"""What every simulated device shares: the weather, the city's traffic rhythm, air options.

Shapes calibrated against the real series in ``/work/shared/data/real`` (see
``simulators/calibration.py`` and ``docs/simulators.md`` for how close they come).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime

from simulators.sky import ICT
from simulators.weather import Weather

# PM2.5 by hour of day (local), relative to the daily mean: the Hanoi US Embassy series
# 2016-2017 (16,961 valid hours), the nearest long hourly record to Hai Phong. Night and
# morning highs (inversion, traffic), an afternoon low when the mixing layer is deepest.
PM_HOUR_SHAPE = (
    1.015,
    1.009,
    0.967,
    1.016,
    1.005,
    1.033,
    1.074,
    1.097,
    1.102,
    1.128,
    1.131,
    1.061,
    1.013,
    0.945,
    0.891,
    0.816,
    0.804,
    0.812,
    0.847,
    0.937,
    1.025,
    1.099,
    1.116,
    1.058,
)
# PM2.5 by month relative to the annual mean, same series: the dry winter is worst.
PM_MONTH_SHAPE = (
    1.433,
    1.389,
    1.059,
    0.887,
    0.645,
    0.611,
    0.503,
    0.607,
    0.847,
    1.121,
    1.222,
    1.677,
)
# Hai Phong's annual PM2.5 mean (coastal, cleaner than Hanoi's ~47 in the series above).
PM25_ANNUAL_MEAN = 32.0

# Motorbike-dominated city traffic by local hour, relative to the weekday daily mean: sharp
# peaks at 07-08 and 17-18 (school and office hours start early), a lunchtime dip, very
# little after midnight. Weekend: later, flatter, about 85 % of the weekday volume.
TRAFFIC_WEEKDAY = (
    0.12,
    0.08,
    0.06,
    0.07,
    0.18,
    0.55,
    1.35,
    2.05,
    1.75,
    1.25,
    1.10,
    1.05,
    0.95,
    0.95,
    1.05,
    1.20,
    1.55,
    2.00,
    1.85,
    1.40,
    1.10,
    0.85,
    0.55,
    0.28,
)
TRAFFIC_WEEKEND = (
    0.18,
    0.12,
    0.08,
    0.07,
    0.12,
    0.30,
    0.65,
    1.00,
    1.20,
    1.25,
    1.20,
    1.10,
    1.00,
    0.95,
    1.00,
    1.10,
    1.25,
    1.35,
    1.35,
    1.25,
    1.05,
    0.85,
    0.60,
    0.35,
)


def _interp(table: tuple[float, ...], hour: float) -> float:
    lo = int(hour) % 24
    frac = hour - int(hour)
    return table[lo] * (1 - frac) + table[(lo + 1) % 24] * frac


def traffic_factor(at: datetime) -> float:
    """City traffic relative to the weekday daily mean (about 1.0 averaged over a weekday)."""
    local = at.astimezone(ICT)
    hour = local.hour + local.minute / 60 + local.second / 3600
    table = TRAFFIC_WEEKEND if local.weekday() >= 5 else TRAFFIC_WEEKDAY
    return _interp(table, hour)


@dataclass
class AirOptions:
    """How the baseline air behaves. ``pm25_mean`` fixes the daily mean (evaluation scenarios
    keep it under QCVN 05:2023's 45 µg/m³); None follows the season. ``inversions`` allows
    the night-time episodes of the dry season, which can exceed the limits on their own."""

    pm25_mean: float | None = None
    pm25_cap: float | None = None
    inversions: bool = True


@dataclass
class World:
    seed: int
    weather: Weather
    air: AirOptions = field(default_factory=AirOptions)

    def pm_level(self, at: datetime) -> float:
        """Daily-mean PM2.5 for the city today (µg/m³) before a station's own factor."""
        if self.air.pm25_mean is not None:
            return self.air.pm25_mean
        local = at.astimezone(ICT)
        month = (local.month - 1) + (local.day - 15) / 30.5
        lo = math.floor(month)
        frac = month - lo
        shape = PM_MONTH_SHAPE[lo % 12] * (1 - frac) + PM_MONTH_SHAPE[(lo + 1) % 12] * frac
        return PM25_ANNUAL_MEAN * shape

    def pm_hour(self, at: datetime) -> float:
        local = at.astimezone(ICT)
        return _interp(PM_HOUR_SHAPE, local.hour + local.minute / 60)

    def inversion(self, at: datetime) -> float:
        """Multiplier from a night-time inversion: on about a third of dry-season nights
        (drawn per night from the seed) PM builds from dusk to a peak before dawn."""
        if not self.air.inversions:
            return 1.0
        local = at.astimezone(ICT)
        hour = local.hour + local.minute / 60
        night = local.toordinal() - (1 if hour < 9 else 0)
        month = local.month if hour >= 9 else datetime.fromordinal(night).month
        if month not in (11, 12, 1, 2, 3):
            return 1.0
        rng = random.Random(f"inversion-{self.seed}-{night}")
        if rng.random() > 0.33:
            return 1.0
        strength = rng.uniform(0.5, 1.2)
        since_dusk = (hour - 18) % 24  # 0 at 18:00 ... 15 at 09:00
        if since_dusk > 15:
            return 1.0
        return 1 + strength * math.sin(math.pi * since_dusk / 15) ** 2
