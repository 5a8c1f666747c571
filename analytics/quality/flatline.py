"""Flat-line (stuck sensor): an analog series repeating the same value for too long.

A live sensor's noise makes exact repeats rare: at the profiles' resolutions ten identical
1-minute PM2.5 readings in a row essentially never happen, so the test is a run of values
within ``tolerance`` lasting both ``min_count`` readings and ``min_s`` seconds (and at least
``min_count - 1`` profile intervals, so a 5-minute gauge needs 45 minutes of stillness).

Two kinds of stillness are real and never flagged: a value pinned within ``bound_share`` of
the profile's range from either bound (relative humidity at 100 % in rain, PM2.5 at the
analyser's detection floor after a washout), and a limit the signal was pressed against: a
run within ``ceiling_share`` of the highest (or lowest) of the series' last
``ceiling_window`` distinct values, reached while its moves had already shrunk to under
``calm_ratio`` of their usual size (the median step between those values against the
series' long-run typical step), or with ``pressing_count`` of them already that close, or
at a value it has already sat at for ``held_count`` readings or more in its recent past.
An analyser or transmitter compressing or clipping near its top of scale moves by a
resolution step before it sits still, and keeps coming back to the same value; a stuck
sensor freezes wherever it was, straight out of its usual noise. Series listed in
``saturating`` (a drain's level when the pipe runs full in a storm, reached in minutes) need
only be at the top. A run that began before the series had ``ceiling_window`` distinct
values is not judged: there is no past to tell a limit from a frozen sensor by.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median

from psycopg import Connection

from analytics.alerts import Finding, Reading
from analytics.quality.catalogue import FLATLINE_SERIES, Catalogue, series_interest
from analytics.quality.wording import duration, with_unit
from ioc_core.settings import Settings

KIND = "quality_flatline"
# EWMA weight of one step (a plain mean over the first 200): the usual step is the last few
# hundred moves' size, slow enough that hours of hovering at a limit do not redefine it.
STEP_WEIGHT = 0.005


@dataclass(frozen=True)
class FlatlineParams:
    min_count: int = 10  # identical readings in a row
    min_s: float = 900.0  # and at least this long (event time)
    tolerance: float = 0.0  # absolute; 0 means "equal" (up to float rounding)
    bound_share: float = 0.003  # runs this close to min or max (share of the range) are real
    series: Mapping[str, frozenset[str]] = field(default_factory=lambda: FLATLINE_SERIES)
    ceiling_share: float = 0.02  # "at the limit": within 2 % of the recent extreme
    calm_ratio: float = 0.34  # recent steps under this share of the usual step: pressed
    held_count: int = 5  # an earlier run this long at the same value marks a limit
    pressing_count: int = 3  # recent values within half of ceiling_share: pressed against it
    ceiling_window: int = 10
    saturating: frozenset[tuple[str, str]] = frozenset({("drainage_sensor", "level")})


@dataclass
class _Run:
    value: float
    start: datetime
    last: datetime
    before: tuple[float, ...]  # the readings just before it (one per earlier run)
    usual_step: float | None  # the series' typical step between distinct values
    count: int = 1
    active: bool = False


class FlatlineDetector:
    def __init__(
        self, params: FlatlineParams | None = None, catalogue: Catalogue | None = None
    ) -> None:
        self.p = params or FlatlineParams()
        # What observe() judges, declared so the engine routes nothing else here.
        self.kinds, self.metrics = series_interest(self.p.series)
        self.catalogue = catalogue or Catalogue()
        self._runs: dict[tuple[str, str], _Run] = {}
        self._recent: dict[tuple[str, str], deque[float]] = {}
        self._step: dict[tuple[str, str], float] = {}  # EWMA of |step| between runs
        self._steps_seen: dict[tuple[str, str], int] = {}
        self._held: dict[tuple[str, str], deque[float]] = {}  # values of recent long runs

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
        recent = self._recent.get(key)
        if recent is None:
            recent = self._recent[key] = deque(maxlen=self.p.ceiling_window)
        eps = max(self.p.tolerance, 1e-9 * max(1.0, abs(reading.value)))
        if run is not None and abs(reading.value - run.value) <= eps:
            run.count += 1
            run.last = reading.time
            held = (run.last - run.start).total_seconds()
            min_s = max(self.p.min_s, (self.p.min_count - 1) * spec.interval_s)
            if (
                not run.active and run.count >= self.p.min_count and held >= min_s
                and not self._explained(reading, spec.min, spec.max, run)
            ):  # fmt: skip
                run.active = True
                return (self._finding(reading, run, spec.unit, active=True),)
            return ()
        if run is not None and run.count >= self.p.held_count:
            self._held.setdefault(key, deque(maxlen=20)).append(run.value)
        usual = self._step.get(key)
        self._runs[key] = _Run(reading.value, reading.time, reading.time, tuple(recent), usual)
        if recent:
            step = abs(reading.value - recent[-1])
            n = self._steps_seen[key] = self._steps_seen.get(key, 0) + 1
            weight = max(1 / n, STEP_WEIGHT)
            self._step[key] = step if usual is None else usual + weight * (step - usual)
        recent.append(reading.value)
        if run is not None and run.active:
            return (self._finding(reading, run, spec.unit, active=False),)
        return ()

    def _explained(self, r: Reading, low: float, high: float, run: _Run) -> bool:
        margin = self.p.bound_share * (high - low)
        if r.value <= low + margin or r.value >= high - margin:
            return True
        if len(run.before) < self.p.ceiling_window or run.usual_step is None:
            return True  # no past to judge by (see the module docstring)
        near = self.p.ceiling_share * max(abs(run.value), 1e-9)
        top = run.value >= max(run.before) - near
        bottom = run.value <= min(run.before) + near
        if (r.kind, r.metric) in self.p.saturating and top:
            return True
        if not (top or bottom):
            return False
        if run.value in self._held.get((r.device_id, r.metric), ()):
            return True
        close = sum(1 for v in run.before if abs(v - run.value) <= near / 2)
        if close >= self.p.pressing_count:
            return True
        steps = [abs(b - a) for a, b in zip(run.before, run.before[1:], strict=False)]
        return median(steps) < self.p.calm_ratio * run.usual_step

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
