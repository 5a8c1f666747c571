"""A plausible air-quality signal for one station; a first cut that issue 6 will calibrate.

Shape, not truth: PM2.5 worst in the dry northern winter and at the two rush hours, PM10
tracking PM2.5, NO2 with traffic, O3 with daylight; AR(1) noise so consecutive readings are
correlated as real ones are.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

ICT = timezone(timedelta(hours=7))  # Indochina Time: the city's clock for diurnal shapes


class AirQualitySignal:
    def __init__(self, *, seed: int, urban: bool) -> None:
        self.rng = random.Random(seed)
        self.level = 1.25 if urban else 0.85
        self.noise = 0.0

    def _rush(self, hour: float) -> float:
        return math.exp(-((hour - 8) ** 2) / 2) + math.exp(-((hour - 18) ** 2) / 2.5)

    def sample(self, at: datetime) -> dict[str, float]:
        local = at.astimezone(ICT)
        hour = local.hour + local.minute / 60
        season = 1 + 0.45 * math.cos(2 * math.pi * (local.timetuple().tm_yday - 15) / 365)
        self.noise = 0.9 * self.noise + self.rng.gauss(0, 0.08)
        traffic = 0.6 + 0.8 * self._rush(hour)
        daylight = max(0.0, math.sin(math.pi * (hour - 6) / 12))
        pm25 = max(2.0, 32 * season * self.level * traffic * math.exp(self.noise))
        return {
            "pm25": round(pm25, 1),
            "pm10": round(pm25 * self.rng.uniform(1.45, 1.75), 1),
            "no2": round(max(1.0, 28 * self.level * traffic * math.exp(self.noise)), 1),
            "so2": round(max(1.0, 9 * self.level * math.exp(self.noise / 2)), 1),
            "co": round(max(100.0, 900 * self.level * traffic * math.exp(self.noise)), 0),
            "o3": round(max(2.0, 20 + 70 * daylight * self.rng.uniform(0.9, 1.1)), 1),
            "temperature": round(24 - 6 * (season - 1) + 4 * daylight + self.rng.gauss(0, 0.2), 1),
            "humidity": round(min(100.0, max(30.0, 80 - 15 * daylight + self.rng.gauss(0, 2))), 1),
            "pressure": round(1012 + 4 * (season - 1) + self.rng.gauss(0, 0.3), 1),
        }
