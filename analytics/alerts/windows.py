"""Hourly means kept incrementally per series (device, metric), for QCVN's averaging periods.

QCVN 05:2023 states limits as the mean of a clock hour, the running mean of the last 8 hourly
means and the mean of 24 hourly means. A series keeps the running sum of its current hour and
the means of its last 24 complete hours: a few hundred bytes per series, so the engine keeps
the whole city in memory and never re-reads telemetry.

Below that coverage a multi-hour mean has no value, but an exceedance can still be certain: if
the hours seen already put the mean above a level whatever the missing hours held (at least
the metric's plausible minimum), the rule is breached (:meth:`HourlyMeans.lower_bound`). That
is how an episode is caught in the first hours after a station (or the engine's history)
starts, without ever presenting a mean of a few hours as a 24-hour one.

An hour closes when a reading of a later hour arrives for the series, or when the event-time
watermark passes its end by ``CLOSE_AFTER`` (a device that stopped reporting still gets its
last hour judged). A reading for an hour already closed is ignored: late data is the rollups'
business (they recompute touched hours); the engine judges the stream as it happens.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["CLOSE_AFTER", "HOUR", "MIN_HOURS", "HourlyMeans", "hour_of"]

HOUR = timedelta(hours=1)
# Readings of the last minutes of an hour may still be in flight when the next hour starts.
CLOSE_AFTER = timedelta(minutes=2)
# Hourly means needed for a multi-hour mean: 75 % coverage, the usual data-capture rule for
# averaging periods (QĐ 1459 asks the same of a day's hours), so a gap does not silence a rule
# while a mean of a few hours is never presented as a 24-hour one.
MIN_HOURS = {1: 1, 8: 6, 24: 18}


def hour_of(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


@dataclass(slots=True)
class HourlyMeans:
    hour: datetime | None = None  # start of the hour being summed
    total: float = 0.0
    count: int = 0
    means: deque[tuple[datetime, float]] = field(default_factory=lambda: deque(maxlen=24))

    def add(self, t: datetime, value: float) -> datetime | None:
        """Add a reading; returns the start of the hour this closed, if it closed one."""
        hour = self.hour
        if hour is not None and hour <= t < hour + HOUR:  # the hot path: same hour
            self.total += value
            self.count += 1
            return None
        h = hour_of(t)
        if hour is None:
            self.hour = h
        elif h < hour:
            return None  # late for a closed hour
        closed = None
        if hour is not None and h > hour:
            closed = self._close()
            self.hour = h
        self.total += value
        self.count += 1
        return closed

    def close_if_due(self, watermark: datetime) -> datetime | None:
        if self.hour is None or self.count == 0 or watermark < self.hour + HOUR + CLOSE_AFTER:
            return None
        closed = self._close()
        self.hour = self.hour + HOUR
        return closed

    def _close(self) -> datetime | None:
        assert self.hour is not None
        if self.count == 0:
            return None
        self.means.append((self.hour, self.total / self.count))
        self.total, self.count = 0.0, 0
        return self.hour

    def seed(self, hour: datetime, mean: float) -> None:
        """Warm start: a complete hour's mean from the rollups, oldest first."""
        if self.means and hour <= self.means[-1][0]:
            return
        self.means.append((hour, mean))

    def seed_current(self, hour: datetime, total: float, count: int) -> None:
        if self.means and hour <= self.means[-1][0]:
            return
        self.hour, self.total, self.count = hour, total, count

    def mean(self, hours: int, ending: datetime) -> tuple[float, int] | None:
        """Mean of the hourly means of the ``hours`` hours ending with the one starting at
        ``ending``, and how many there were; None below the coverage rule."""
        start = ending - (hours - 1) * HOUR
        values = [m for h, m in self.means if start <= h <= ending]
        if len(values) < MIN_HOURS[hours]:
            return None
        return sum(values) / len(values), len(values)

    def lower_bound(self, hours: int, ending: datetime, floor: float) -> tuple[float, int]:
        """The least the mean over ``hours`` hours ending at ``ending`` can be, whatever the
        hours not seen held, given no hour's mean is below ``floor`` (the metric's plausible
        minimum); and how many hours were seen."""
        start = ending - (hours - 1) * HOUR
        values = [m for h, m in self.means if start <= h <= ending]
        return (sum(values) + (hours - len(values)) * floor) / hours, len(values)

    def previous_mean(self, ending: datetime) -> tuple[datetime, float] | None:
        """The hourly mean before the one at ``ending`` (rate of change of hourly means)."""
        before = [(h, m) for h, m in self.means if h < ending]
        return before[-1] if before else None
