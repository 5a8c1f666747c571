"""PM2.5 above PM10: physically impossible (PM2.5 is a fraction of PM10), so one of the two
channels is wrong, typically an optical sensor over-reading in humid air or a swapped channel.

Pairs are a station's pm25 and pm10 at the same time (within ``pair_tolerance_s``; one
message carries both). Noise at low concentrations can put PM2.5 a little over PM10 on a
single minute, so a pair violates only past a tolerance (``relative`` of PM10 plus
``absolute`` µg/m³), and the alert needs ``min_count`` violating pairs in a row; it clears
after as many consistent pairs in a row. While either channel is frozen (``frozen_after``
identical readings in a row) pairs are not judged: a stuck channel drifting apart from a
live one is the flat-line detector's finding, not a PM2.5/PM10 inconsistency.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from psycopg import Connection

from analytics.alerts import Finding, Reading
from analytics.quality.wording import num
from ioc_core.settings import Settings

KIND = "quality_pm_ratio"
KEY = "pm25_pm10"
STATION_KIND = "air_quality_station"


@dataclass(frozen=True)
class PmRatioParams:
    relative: float = 0.10  # PM2.5 may exceed PM10 by this share of PM10...
    absolute: float = 2.0  # ...plus this many µg/m³ before a pair counts as inconsistent
    min_count: int = 5  # consecutive pairs to open, and to clear
    pair_tolerance_s: float = 10.0  # "same time": one message carries both
    frozen_after: int = 4  # fewer than min_count: a frozen channel never opens one


class _Station:
    """A station's latest PM2.5 and PM10 (time, value), kept as fields: two readings of every
    station message come through here."""

    __slots__ = ("active", "bad", "good", "last_pair", "pm10_t", "pm10_v", "pm25_t", "pm25_v",
                 "repeats10", "repeats25")  # fmt: skip

    def __init__(self) -> None:
        self.pm25_t: datetime | None = None
        self.pm25_v = 0.0
        self.pm10_t: datetime | None = None
        self.pm10_v = 0.0
        self.last_pair: datetime | None = None
        self.bad = 0
        self.good = 0
        self.active = False
        self.repeats25 = 0  # identical readings in a row, after the first
        self.repeats10 = 0


class PmRatioDetector:
    def __init__(self, params: PmRatioParams | None = None) -> None:
        self.p = params or PmRatioParams()
        # Only a station's PM readings matter (declared to the engine's routing).
        self.kinds = frozenset({STATION_KIND})
        self.metrics = frozenset({"pm25", "pm10"})
        self._stations: dict[str, _Station] = {}

    def observe(self, reading: Reading) -> Iterable[Finding]:
        if reading.kind != STATION_KIND:
            return ()
        metric = reading.metric
        st = self._stations.get(reading.device_id)
        time, value = reading.time, reading.value
        if metric == "pm25":
            if st is None:
                st = self._stations[reading.device_id] = _Station()
            previous = st.pm25_t
            if previous is not None and time > previous:
                st.repeats25 = st.repeats25 + 1 if value == st.pm25_v else 0
            st.pm25_t, st.pm25_v = time, value
        elif metric == "pm10":
            if st is None:
                st = self._stations[reading.device_id] = _Station()
            previous = st.pm10_t
            if previous is not None and time > previous:
                st.repeats10 = st.repeats10 + 1 if value == st.pm10_v else 0
            st.pm10_t, st.pm10_v = time, value
        else:
            return ()
        t25, t10 = st.pm25_t, st.pm10_t
        if t25 is None or t10 is None:
            return ()
        pm25, pm10 = st.pm25_v, st.pm10_v
        at = max(t25, t10)
        apart = 0.0 if t25 == t10 else abs((t25 - t10).total_seconds())
        if apart > self.p.pair_tolerance_s:
            return ()
        if st.last_pair is not None and at <= st.last_pair:
            return ()
        st.last_pair = at
        if max(st.repeats25, st.repeats10) + 1 >= self.p.frozen_after:
            return ()
        limit = pm10 * (1 + self.p.relative) + self.p.absolute
        if pm25 > limit:
            st.bad += 1
            st.good = 0
            if not st.active and st.bad >= self.p.min_count:
                st.active = True
                return (self._open(reading, at, pm25, pm10, limit, st.bad),)
        else:
            st.good += 1
            st.bad = 0
            if st.active and st.good >= self.p.min_count:
                st.active = False
                return (self._clear(reading, at, pm25, pm10),)
        return ()

    def tick(self, watermark: datetime) -> Iterable[Finding]:
        return ()

    def _open(
        self, r: Reading, at: datetime, pm25: float, pm10: float, limit: float, count: int
    ) -> Finding:
        reason = (
            f"PM2.5 {num(pm25)} µg/m³ exceeds PM10 {num(pm10)} µg/m³ "
            f"(ratio {num(pm25 / pm10) if pm10 > 0 else 'inf'}) for {count} consecutive readings; "
            f"tolerance PM10 x {1 + self.p.relative:g} + {self.p.absolute:g} µg/m³ = {num(limit)}. "
            f"PM2.5 is part of PM10, so one channel is wrong (humidity on an optical sensor, "
            f"swapped channels, a fouled inlet)"
        )
        return Finding(
            kind=KIND, device_id=r.device_id, key=KEY, active=True, severity="warning",
            time=at, title="PM2.5 above PM10", reason=reason, metric="pm25", value=pm25,
            threshold=limit,
        )  # fmt: skip

    def _clear(self, r: Reading, at: datetime, pm25: float, pm10: float) -> Finding:
        return Finding(
            kind=KIND, device_id=r.device_id, key=KEY, active=False, severity="warning",
            time=at, title="PM2.5 below PM10 again",
            reason=f"PM2.5 {num(pm25)} µg/m³ ≤ PM10 {num(pm10)} µg/m³ for {self.p.min_count} "
            f"consecutive readings", metric="pm25", value=pm25,
        )  # fmt: skip


def factory(settings: Settings, conn: Connection) -> PmRatioDetector:
    from analytics.quality.config import pm_ratio_params

    return PmRatioDetector(pm_ratio_params(settings))
