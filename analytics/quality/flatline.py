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
from itertools import pairwise
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


class _Series:
    """One (device, metric)'s state: the profile's range resolved once, the current run of
    equal values kept in place (most readings start a new run: a live sensor rarely repeats),
    and the ring of recent run values, from which a run's ``before`` is read only when it is
    judged."""

    __slots__ = (
        "active", "count", "held", "high", "kind", "last", "low", "min_s", "recent", "start",
        "step", "steps_seen", "unit", "usual", "value",
    )  # fmt: skip

    def __init__(self, kind: str, low: float, high: float, unit: str, min_s: float,
                 window: int) -> None:  # fmt: skip
        self.kind = kind
        self.low = low
        self.high = high
        self.unit = unit
        self.min_s = min_s  # max(min_s, (min_count - 1) profile intervals)
        # The current run (count 0: none yet).
        self.value = 0.0
        self.start: datetime | None = None
        self.last: datetime | None = None
        self.count = 0
        self.active = False
        self.usual: float | None = None  # the series' typical step when the run began
        # One value per run, the current run's last: ``window`` + 1 so the ``window`` values
        # before the current run are all still there when it is judged.
        self.recent: deque[float] = deque(maxlen=window + 1)
        self.step: float | None = None  # EWMA of |step| between runs
        self.steps_seen = 0
        self.held: deque[float] | None = None  # values of recent long runs


class FlatlineDetector:
    def __init__(
        self, params: FlatlineParams | None = None, catalogue: Catalogue | None = None
    ) -> None:
        self.p = params or FlatlineParams()
        # What observe() judges, declared so the engine routes nothing else here.
        self.kinds, self.metrics = series_interest(self.p.series)
        self.catalogue = catalogue or Catalogue()
        self._series: dict[tuple[str, str], _Series] = {}

    def _resolve(self, reading: Reading, s: _Series | None) -> _Series | None:
        """The series' state with its kind's spec, or None when this kind/metric is not judged
        (first sight of a series, or a device re-registered as another kind)."""
        metrics = self.p.series.get(reading.kind)
        if metrics is None or reading.metric not in metrics:
            return None
        spec = self.catalogue.spec(reading.kind, reading.metric)
        if spec is None:
            return None
        min_s = max(self.p.min_s, (self.p.min_count - 1) * spec.interval_s)
        if s is None:
            s = _Series(reading.kind, spec.min, spec.max, spec.unit, min_s, self.p.ceiling_window)
            self._series[(reading.device_id, reading.metric)] = s
        else:
            s.kind, s.low, s.high, s.unit = reading.kind, spec.min, spec.max, spec.unit
            s.min_s = min_s
        return s

    def observe(self, reading: Reading) -> Iterable[Finding]:
        # Called for every reading of ~10 metrics of every station: one dict look-up, no
        # catalogue look-up and no allocation unless a run ends a long one or opens an alert.
        s = self._series.get((reading.device_id, reading.metric))
        if s is None or s.kind != reading.kind:
            s = self._resolve(reading, s)
            if s is None:
                return ()
        value = reading.value
        if not s.low <= value <= s.high:
            return ()  # out-of-range readings are the out-of-range detector's
        time = reading.time
        count = s.count
        if count:
            if time <= s.last:  # type: ignore[operator]
                return ()  # a duplicate or late reading says nothing about stillness now
            # |value - run value| <= max(tolerance, 1e-9 * max(1, |value|)), without the calls.
            diff = value - s.value
            if diff < 0.0:
                diff = -diff
            if (
                diff <= self.p.tolerance or diff <= 1e-9
                or diff <= 1e-9 * (value if value >= 0.0 else -value)
            ):  # fmt: skip
                count = s.count = count + 1
                s.last = time
                if (
                    not s.active and count >= self.p.min_count
                    and (time - s.start).total_seconds() >= s.min_s  # type: ignore[operator]
                    and not self._explained(reading, s)
                ):  # fmt: skip
                    s.active = True
                    return (self._finding(reading, s, active=True),)
                return ()
        out: tuple[Finding, ...] = ()
        if count:
            if s.active:
                out = (self._finding(reading, s, active=False),)
            if count >= self.p.held_count:
                if s.held is None:
                    s.held = deque(maxlen=20)
                s.held.append(s.value)
        usual = s.step
        s.value, s.start, s.last, s.count, s.active, s.usual = value, time, time, 1, False, usual
        recent = s.recent
        if recent:
            step = abs(value - recent[-1])
            n = s.steps_seen = s.steps_seen + 1
            weight = 1 / n  # a plain mean at first, then max(1 / n, STEP_WEIGHT)
            if weight < STEP_WEIGHT:
                weight = STEP_WEIGHT
            s.step = step if usual is None else usual + weight * (step - usual)
        recent.append(value)
        return out

    def _explained(self, r: Reading, s: _Series) -> bool:
        margin = self.p.bound_share * (s.high - s.low)
        if r.value <= s.low + margin or r.value >= s.high - margin:
            return True
        before = tuple(s.recent)[:-1]  # the run values just before this run
        if len(before) < self.p.ceiling_window or s.usual is None:
            return True  # no past to judge by (see the module docstring)
        near = self.p.ceiling_share * max(abs(s.value), 1e-9)
        top = s.value >= max(before) - near
        bottom = s.value <= min(before) + near
        if (r.kind, r.metric) in self.p.saturating and top:
            return True
        if not (top or bottom):
            return False
        if s.held is not None and s.value in s.held:
            return True
        close = sum(1 for v in before if abs(v - s.value) <= near / 2)
        if close >= self.p.pressing_count:
            return True
        steps = [abs(b - a) for a, b in pairwise(before)]
        return median(steps) < self.p.calm_ratio * s.usual

    def tick(self, watermark: datetime) -> Iterable[Finding]:
        return ()

    def _finding(self, reading: Reading, run: _Series, *, active: bool) -> Finding:
        """Built before the run is replaced: ``run`` holds the run being reported."""
        held = run.last - run.start  # type: ignore[operator]
        unit = run.unit
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
