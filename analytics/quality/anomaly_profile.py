"""A device's own daily and weekly profile: what each hour of its day (and of its week)
usually reads, learnt from the 1-hour rollups at start and updated online, hour by hour.

Values are kept on the comparison scale (:class:`analytics.quality.anomaly_series.Scale`).
The weekly slot (hour of week, local time) is used once it has ``weekly_min`` past weeks,
else the daily slot (hour of day) once it has ``daily_min`` past days. The residual spread
is the MAD of past hourly means around their slots' medians: the device's own day-to-day
variability, not its minute-to-minute noise.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta, timezone
from statistics import median

from analytics.quality.spike import MAD_TO_SIGMA

ICT = timezone(timedelta(hours=7))  # profiles follow the city's clock (rush hours, dusk)


class Profile:
    __slots__ = ("daily", "daily_min", "keep", "residuals", "weekly", "weekly_min")

    def __init__(self, *, daily_min: int = 3, weekly_min: int = 3, keep: int = 8) -> None:
        # Slots are made as hours are learnt: building all 192 deques up front cost ~0.7 ms
        # per series, on the engine's hot path when a device is first seen.
        self.daily: dict[int, deque[float]] = {}
        self.weekly: dict[int, deque[float]] = {}
        self.residuals: deque[float] = deque(maxlen=24 * 28)
        self.daily_min = daily_min
        self.weekly_min = weekly_min
        self.keep = keep

    @staticmethod
    def slots(at: datetime) -> tuple[int, int]:
        local = at.astimezone(ICT)
        return local.hour, local.weekday() * 24 + local.hour

    def _slot(self, at: datetime) -> tuple[float, str] | None:
        hour, week_hour = self.slots(at)
        weekly = self.weekly.get(week_hour)
        if weekly is not None and len(weekly) >= self.weekly_min:
            return median(weekly), "weekly"
        daily = self.daily.get(hour)
        if daily is not None and len(daily) >= self.daily_min:
            return median(daily), "daily"
        return None

    def expected(self, at: datetime) -> tuple[float, str] | None:
        """The usual value at ``at`` and which profile said so, or None while unlearnt.

        Interpolated between the two nearest hourly slots (each stands for its half hour):
        at dawn ozone rises several-fold within two hours, and a step profile would call
        the ramp itself an anomaly.
        """
        centre = at - timedelta(minutes=30)
        before = centre.replace(minute=0, second=0, microsecond=0)
        frac = (centre - before).total_seconds() / 3600
        a, b = self._slot(before), self._slot(before + timedelta(hours=1))
        if a is None or b is None:
            return a or b
        return (1 - frac) * a[0] + frac * b[0], a[1] if a[1] == b[1] else "daily"

    def spread(self, floor: float) -> float | None:
        if len(self.residuals) < 24:  # anomaly.MIN_RESIDUALS
            return None
        centre = median(self.residuals)
        return max(floor, MAD_TO_SIGMA * median(abs(r - centre) for r in self.residuals))

    def learn(self, hour_start: datetime, mean: float) -> None:
        """One more hourly mean: its residual first (against what was known), then the slots."""
        known = self._slot(hour_start)
        if known is not None:
            self.residuals.append(mean - known[0])
        hour, week_hour = self.slots(hour_start)
        daily = self.daily.get(hour)
        if daily is None:
            daily = self.daily[hour] = deque(maxlen=self.keep * 7)
        daily.append(mean)
        weekly = self.weekly.get(week_hour)
        if weekly is None:
            weekly = self.weekly[week_hour] = deque(maxlen=self.keep)
        weekly.append(mean)
