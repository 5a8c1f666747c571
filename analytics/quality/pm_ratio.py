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
from dataclasses import dataclass, field
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


@dataclass
class _Station:
    pm25: tuple[datetime, float] | None = None
    pm10: tuple[datetime, float] | None = None
    last_pair: datetime | None = None
    bad: int = 0
    good: int = 0
    active: bool = False
    repeats: dict[str, int] = field(default_factory=lambda: {"pm25": 0, "pm10": 0})


class PmRatioDetector:
    def __init__(self, params: PmRatioParams | None = None) -> None:
        self.p = params or PmRatioParams()
        # Only a station's PM readings matter (declared to the engine's routing).
        self.kinds = frozenset({STATION_KIND})
        self.metrics = frozenset({"pm25", "pm10"})
        self._stations: dict[str, _Station] = {}

    def observe(self, reading: Reading) -> Iterable[Finding]:
        if reading.kind != STATION_KIND or reading.metric not in ("pm25", "pm10"):
            return ()
        st = self._stations.setdefault(reading.device_id, _Station())
        previous = st.pm25 if reading.metric == "pm25" else st.pm10
        if previous is not None and reading.time > previous[0]:
            same = reading.value == previous[1]
            st.repeats[reading.metric] = st.repeats[reading.metric] + 1 if same else 0
        if reading.metric == "pm25":
            st.pm25 = (reading.time, reading.value)
        else:
            st.pm10 = (reading.time, reading.value)
        if st.pm25 is None or st.pm10 is None:
            return ()
        (t25, pm25), (t10, pm10) = st.pm25, st.pm10
        at = max(t25, t10)
        if abs((t25 - t10).total_seconds()) > self.p.pair_tolerance_s:
            return ()
        if st.last_pair is not None and at <= st.last_pair:
            return ()
        st.last_pair = at
        if max(st.repeats.values()) + 1 >= self.p.frozen_after:
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
