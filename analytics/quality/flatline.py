"""Flat-line (stuck sensor): an analog series repeating the same value for too long.

A live sensor's noise makes exact repeats rare: at the profiles' resolutions ten identical
1-minute PM2.5 readings in a row essentially never happen, so the test is a run of values
within ``tolerance`` lasting both ``min_count`` readings and ``min_s`` seconds (and at least
``min_count - 1`` profile intervals, so a 5-minute gauge needs 45 minutes of stillness).

Two kinds of stillness are real and never flagged: a value pinned within ``bound_share`` of
the profile's range from either bound (relative humidity at 100 % in rain, PM2.5 at the
analyser's detection floor after a washout), and, for series that saturate (a drain's level
when the pipe runs full), a run at the highest value the series has reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from psycopg import Connection

from analytics.alerts import Finding, Reading
from analytics.quality.catalogue import FLATLINE_SERIES, Catalogue
from analytics.quality.wording import duration, with_unit
from ioc_core.settings import Settings

KIND = "quality_flatline"


@dataclass(frozen=True)
class FlatlineParams:
    min_count: int = 10  # identical readings in a row
    min_s: float = 900.0  # and at least this long (event time)
    tolerance: float = 0.0  # absolute; 0 means "equal" (up to float rounding)
    bound_share: float = 0.003  # runs this close to min or max (share of the range) are real
    series: Mapping[str, frozenset[str]] = field(default_factory=lambda: FLATLINE_SERIES)
    saturating: frozenset[tuple[str, str]] = frozenset({("drainage_sensor", "level")})


@dataclass
class _Run:
    value: float
    start: datetime
    last: datetime
    count: int = 1
    active: bool = False


class FlatlineDetector:
    def __init__(
        self, params: FlatlineParams | None = None, catalogue: Catalogue | None = None
    ) -> None:
        self.p = params or FlatlineParams()
        self.catalogue = catalogue or Catalogue()
        self._runs: dict[tuple[str, str], _Run] = {}
        self._highest: dict[tuple[str, str], float] = {}

    def observe(self, reading: Reading) -> Iterable[Finding]:
        metrics = self.p.series.get(reading.kind)
        if metrics is None or reading.metric not in metrics:
            return ()
        spec = self.catalogue.spec(reading.kind, reading.metric)
        if spec is None or not spec.min <= reading.value <= spec.max:
            return ()  # out-of-range readings are the out-of-range detector's
        key = (reading.device_id, reading.metric)
        run = self._runs.get(key)
        if run is not None and reading.time <= run.last:
            return ()  # a duplicate or late reading says nothing about stillness now
        highest = self._highest.get(key)
        if highest is None or reading.value > highest:
            self._highest[key] = reading.value
        eps = max(self.p.tolerance, 1e-9 * max(1.0, abs(reading.value)))
        if run is not None and abs(reading.value - run.value) <= eps:
            run.count += 1
            run.last = reading.time
            held = (run.last - run.start).total_seconds()
            min_s = max(self.p.min_s, (self.p.min_count - 1) * spec.interval_s)
            if (
                not run.active and run.count >= self.p.min_count and held >= min_s
                and not self._explained(reading, spec.min, spec.max, key)
            ):  # fmt: skip
                run.active = True
                return (self._finding(reading, run, spec.unit, active=True),)
            return ()
        self._runs[key] = _Run(reading.value, reading.time, reading.time)
        if run is not None and run.active:
            return (self._finding(reading, run, spec.unit, active=False),)
        return ()

    def _explained(self, r: Reading, low: float, high: float, key: tuple[str, str]) -> bool:
        margin = self.p.bound_share * (high - low)
        if r.value <= low + margin or r.value >= high - margin:
            return True
        return (r.kind, r.metric) in self.p.saturating and r.value >= self._highest[key]

    def tick(self, watermark: datetime) -> Iterable[Finding]:
        return ()

    def _finding(self, reading: Reading, run: _Run, unit: str, *, active: bool) -> Finding:
        held = run.last - run.start
        stuck = with_unit(run.value, unit)
        if active:
            title = f"{reading.metric} flat for {duration(held)}"
            reason = (
                f"{reading.metric} has read exactly {stuck} {run.count} times in a row over "
                f"{duration(held)} (since {run.start:%Y-%m-%d %H:%M} UTC); a live sensor's noise "
                f"makes {self.p.min_count} identical readings implausible: stuck or frozen sensor"
            )
        else:
            title = f"{reading.metric} varying again"
            reason = (
                f"{reading.metric} moved from {stuck} to {with_unit(reading.value, unit)} after "
                f"{run.count} identical readings over {duration(held)}"
            )
        return Finding(
            kind=KIND, device_id=reading.device_id, key=reading.metric, active=active,
            severity="warning", time=reading.time, title=title, reason=reason,
            metric=reading.metric, value=run.value if active else reading.value,
            threshold=float(self.p.min_count),
        )  # fmt: skip


def factory(settings: Settings, conn: Connection) -> FlatlineDetector:
    from analytics.quality.config import flatline_params

    return FlatlineDetector(flatline_params(settings))
