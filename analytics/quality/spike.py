"""Spike: a brief excursion far outside a series' recent neighbourhood (Hampel filter).

The reference is the median of the last ``window`` readings and the scale 1.4826 x their
median absolute deviation (MAD), both unmoved by the spikes themselves. A reading departs
when it is more than ``k`` scales from the median *and* more than a floor: a share of the
metric's plausible range (so a calm series with a tiny MAD does not flag every wobble) and,
on ratio scales such as concentrations, a share of the median.

A spike is an excursion that comes back: the alert is raised when, within ``max_burst``
readings, the series returns inside the limit. A departure that stays is a step (a drain
filling in a storm, a real change of regime), which other detectors judge; so the verdict
waits one reading, and the finding carries the spike's own event time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from psycopg import Connection

from analytics.alerts import Finding, Reading
from analytics.quality.catalogue import SPIKE_SERIES, Catalogue, series_interest
from analytics.quality.wording import num, with_unit
from devices.profiles import MetricSpec
from ioc_core.settings import Settings

KIND = "quality_spike"
MAD_TO_SIGMA = 1.4826  # MAD of a normal sample x this estimates its standard deviation


@dataclass(frozen=True)
class SpikeParams:
    window: int = 15  # readings in the reference neighbourhood
    min_history: int = 8  # readings needed before judging
    k: float = 6.0  # robust standard deviations
    range_floor: float = 0.02  # departure must also exceed this share of (max - min)
    relative_floor: float = 0.5  # ...and, on ratio scales, this share of the median
    max_burst: int = 3  # readings an excursion may last and still be a spike
    series: Mapping[str, frozenset[str]] = field(default_factory=lambda: SPIKE_SERIES)


@dataclass(frozen=True)
class _Excursion:
    first: Reading  # the most extreme departing reading is reported
    peak: Reading
    ref: float
    mad: float
    limit: float
    values: tuple[float, ...]


class _Series:
    """One (device, metric): its kind's range resolved once, and the reference window kept
    twice, in arrival order (what leaves next) and sorted (its median without a sort)."""

    __slots__ = ("excursion", "floor", "high", "kind", "last", "low", "ratio", "sorted", "unit",
                 "values")  # fmt: skip

    def __init__(self, kind: str, spec: MetricSpec, p: SpikeParams) -> None:
        self.kind = kind
        self.values: deque[float] = deque(maxlen=p.window)
        self.sorted: list[float] = []  # == sorted(values), equal values in arrival order
        self.last: datetime | None = None  # None: no reading yet
        self.excursion: _Excursion | None = None
        self.set_spec(spec, p)

    def set_spec(self, spec: MetricSpec, p: SpikeParams) -> None:
        self.low, self.high, self.unit = spec.min, spec.max, spec.unit
        self.floor = p.range_floor * (spec.max - spec.min)
        self.ratio = spec.min >= 0 and spec.unit != "Cel"  # a ratio scale: relative floor too

    def push(self, value: float) -> None:
        values, ordered = self.values, self.sorted
        if len(values) == values.maxlen:
            # The oldest of equal values sits first among them (insort puts a value after its
            # equals), so the list stays exactly what sorted(values) gives.
            del ordered[bisect_left(ordered, values[0])]
        values.append(value)
        insort(ordered, value)


def _median_sorted(ordered: list[float]) -> float:
    """statistics.median of an already sorted list (same arithmetic, no copy, no sort)."""
    n = len(ordered)
    if n % 2:
        return ordered[n // 2]
    i = n // 2
    return (ordered[i - 1] + ordered[i]) / 2


class SpikeDetector:
    def __init__(
        self, params: SpikeParams | None = None, catalogue: Catalogue | None = None
    ) -> None:
        self.p = params or SpikeParams()
        # What observe() judges, declared so the engine routes nothing else here.
        self.kinds, self.metrics = series_interest(self.p.series)
        self.catalogue = catalogue or Catalogue()
        self._series: dict[tuple[str, str], _Series] = {}

    def _resolve(self, reading: Reading, s: _Series | None) -> _Series | None:
        """The series' state with its kind's spec; None when this kind/metric is not judged."""
        metrics = self.p.series.get(reading.kind)
        if metrics is None or reading.metric not in metrics:
            return None
        spec = self.catalogue.spec(reading.kind, reading.metric)
        if spec is None:
            return None
        if s is None:
            s = self._series[(reading.device_id, reading.metric)] = _Series(
                reading.kind, spec, self.p
            )
        else:
            s.kind = reading.kind
            s.set_spec(spec, self.p)
        return s

    def observe(self, reading: Reading) -> Iterable[Finding]:
        # Every reading of the watched series: the rolling median is read off a sorted window,
        # and the MAD is only computed when the reading is past the floor (below the floor a
        # reading is never a departure, whatever the MAD).
        s = self._series.get((reading.device_id, reading.metric))
        if s is None or s.kind != reading.kind:
            s = self._resolve(reading, s)
            if s is None:
                return ()
        value = reading.value
        if not s.low <= value <= s.high:
            return ()
        if s.last is None:
            s.last = reading.time
            s.push(value)
            return ()
        if reading.time <= s.last:
            return ()
        s.last = reading.time
        if len(s.values) < self.p.min_history:
            s.push(value)
            return ()
        exc = s.excursion
        if exc is not None:
            # Judged against the reference from before the excursion began.
            if abs(value - exc.ref) > exc.limit:
                peak = reading if abs(value - exc.ref) > abs(exc.peak.value - exc.ref) \
                    else exc.peak  # fmt: skip
                values = (*exc.values, value)
                if len(values) > self.p.max_burst:
                    s.excursion = None  # a step, not a spike: the new level is the reference
                    for v in values:
                        s.push(v)
                else:
                    s.excursion = _Excursion(exc.first, peak, exc.ref, exc.mad, exc.limit, values)
                return ()
            s.excursion = None
            s.push(value)
            return (self._spike(exc, s.unit), self._clear(reading, s.unit, exc.ref))
        ordered = s.sorted
        n = len(ordered)
        ref = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
        floor = s.floor
        if s.ratio:
            relative = self.p.relative_floor * abs(ref)
            if relative > floor:
                floor = relative
        departure = abs(value - ref)
        if departure > floor and not self._within_mad(ordered, ref, departure):
            mad = _median_sorted(sorted([abs(v - ref) for v in ordered]))
            limit = max(self.p.k * MAD_TO_SIGMA * mad, floor)
            if departure > limit:
                s.excursion = _Excursion(reading, reading, ref, mad, limit, (value,))
                return ()
        # Within the floor, or within k MADs (the limit is the larger of the two): slide the
        # window (s.push, inlined: this is nearly every reading).
        window = s.values
        if len(window) == window.maxlen:
            del ordered[bisect_left(ordered, window[0])]
        window.append(value)
        insort(ordered, value)
        return ()

    def _within_mad(self, ordered: list[float], ref: float, departure: float) -> bool:
        """True only if ``departure`` <= k x 1.4826 x MAD for sure, told without computing the
        MAD: if at most (n - 1) // 2 window values lie within departure / (k x 1.4826) of the
        median (two bisects, the bounds widened past any rounding), the MAD is at least that.
        False means "compute it"."""
        scale = self.p.k * MAD_TO_SIGMA
        if not scale > 0.0:
            return False
        reach = departure / scale * (1.0 + 1e-12)
        if not reach > 1e-290:
            return False
        margin = 1e-9 * (abs(ref) + reach) + 1e-300
        inside = bisect_right(ordered, ref + reach + margin) - bisect_left(
            ordered, ref - reach - margin
        )
        return inside <= (len(ordered) - 1) // 2

    def tick(self, watermark: datetime) -> Iterable[Finding]:
        return ()

    def _spike(self, exc: _Excursion, unit: str) -> Finding:
        r, ref, mad = exc.peak, exc.ref, exc.mad
        sigmas = abs(r.value - ref) / (MAD_TO_SIGMA * mad) if mad > 0 else float("inf")
        direction = "above" if r.value > ref else "below"
        count = len(exc.values)
        lasted = "one reading" if count == 1 else f"{count} readings"
        reason = (
            f"{r.metric} read {with_unit(r.value, unit)}, {with_unit(abs(r.value - ref), unit)} "
            f"{direction} the median {with_unit(ref, unit)} of its previous {self.p.window} "
            f"readings (MAD {num(mad)}, {num(sigmas)} robust sd; limit "
            f"{with_unit(exc.limit, unit)}), for {lasted}, then came back"
        )
        return Finding(
            kind=KIND, device_id=r.device_id, key=r.metric, active=True, severity="advisory",
            time=exc.first.time, title=f"{r.metric} spike to {with_unit(r.value, unit)}",
            reason=reason, metric=r.metric, value=r.value,
            threshold=ref + exc.limit if r.value > ref else ref - exc.limit,
        )  # fmt: skip

    def _clear(self, r: Reading, unit: str, ref: float) -> Finding:
        return Finding(
            kind=KIND, device_id=r.device_id, key=r.metric, active=False, severity="advisory",
            time=r.time, title=f"{r.metric} back in its neighbourhood",
            reason=f"{r.metric} read {with_unit(r.value, unit)}, within the Hampel limit of the "
            f"median {with_unit(ref, unit)}", metric=r.metric, value=r.value,
        )  # fmt: skip


def factory(settings: Settings, conn: Connection) -> SpikeDetector:
    from analytics.quality.config import spike_params

    return SpikeDetector(spike_params(settings))
