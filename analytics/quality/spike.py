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

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median

from psycopg import Connection

from analytics.alerts import Finding, Reading
from analytics.quality.catalogue import SPIKE_SERIES, Catalogue, series_interest
from analytics.quality.wording import num, with_unit
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


@dataclass
class _Series:
    values: deque[float]
    last: datetime
    excursion: _Excursion | None = None


class SpikeDetector:
    def __init__(
        self, params: SpikeParams | None = None, catalogue: Catalogue | None = None
    ) -> None:
        self.p = params or SpikeParams()
        # What observe() judges, declared so the engine routes nothing else here.
        self.kinds, self.metrics = series_interest(self.p.series)
        self.catalogue = catalogue or Catalogue()
        self._series: dict[tuple[str, str], _Series] = {}

    def observe(self, reading: Reading) -> Iterable[Finding]:
        metrics = self.p.series.get(reading.kind)
        if metrics is None or reading.metric not in metrics:
            return ()
        spec = self.catalogue.spec(reading.kind, reading.metric)
        if spec is None or not spec.min <= reading.value <= spec.max:
            return ()
        key = (reading.device_id, reading.metric)
        s = self._series.get(key)
        if s is None:
            self._series[key] = _Series(deque([reading.value], maxlen=self.p.window), reading.time)
            return ()
        if reading.time <= s.last:
            return ()
        s.last = reading.time
        if len(s.values) < self.p.min_history:
            s.values.append(reading.value)
            return ()
        exc = s.excursion
        if exc is not None:
            # Judged against the reference from before the excursion began.
            if abs(reading.value - exc.ref) > exc.limit:
                peak = reading if abs(reading.value - exc.ref) > abs(exc.peak.value - exc.ref) \
                    else exc.peak  # fmt: skip
                values = (*exc.values, reading.value)
                if len(values) > self.p.max_burst:
                    s.excursion = None  # a step, not a spike: the new level is the reference
                    s.values.extend(values)
                else:
                    s.excursion = _Excursion(exc.first, peak, exc.ref, exc.mad, exc.limit, values)
                return ()
            s.excursion = None
            s.values.append(reading.value)
            return (self._spike(exc, spec.unit), self._clear(reading, spec.unit, exc.ref))
        ref = median(s.values)
        mad = median(abs(v - ref) for v in s.values)
        floor = self.p.range_floor * (spec.max - spec.min)
        if spec.min >= 0 and spec.unit != "Cel":
            floor = max(floor, self.p.relative_floor * abs(ref))
        limit = max(self.p.k * MAD_TO_SIGMA * mad, floor)
        if abs(reading.value - ref) > limit:
            s.excursion = _Excursion(reading, reading, ref, mad, limit, (reading.value,))
            return ()
        s.values.append(reading.value)
        return ()

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
