"""Dropout: a device, or one of its metrics, silent for longer than its cadence allows.

Judged in event time by ``tick(watermark)``: a series is dropped out when the watermark (the
latest reading time the engine has seen, from any device) runs ``factor`` expected gaps past
its last reading. The expected gap is the series' own cadence learnt online (median of the
last gaps), never below the profile's interval, so a device reporting faster than its profile
is not judged by a looser clock and one on the profile's clock is not judged by a tighter one.
A whole-device silence is one finding (key ``device``); while the device still reports, a
metric missing for much longer (``metric_factor`` times its limit, at least
``metric_min_s``: a value ingest rejects as out of range is "missing" here too, and the
out-of-range alert already says so) is one finding keyed by the metric.

A device whose connection is known lost (its MQTT last will opened a ``connectivity``
alert) is silent for that reason, and the connectivity alert says so: the factory's detector
asks the alerts table once, when a dropout is about to open, never per reading.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median

from psycopg import Connection
from psycopg.rows import tuple_row

from analytics.alerts import Finding, Reading
from analytics.quality.catalogue import Catalogue
from analytics.quality.wording import duration
from ioc_core.settings import Settings

KIND = "quality_dropout"
DEVICE_KEY = "device"


@dataclass(frozen=True)
class DropoutParams:
    factor: float = 4.0  # expected gaps of silence before a dropout
    min_gap_s: float = 240.0  # never judge silence shorter than this (watermark jitter)
    min_readings: int = 4  # a series is judged only once its cadence is known
    min_instants_after: int = 3  # device reports without a metric before it is missing
    metric_factor: float = 2.0  # a single metric: this many device limits...
    metric_min_s: float = 3600.0  # ...and at least this long


@dataclass
class _Series:
    last: datetime
    gaps: deque[float] = field(default_factory=lambda: deque(maxlen=9))
    count: int = 1
    limit_s: float = 0.0
    active: bool = False


@dataclass
class _Device:
    tenant_id: str
    kind: str
    series: dict[str, _Series] = field(default_factory=dict)
    # The device's latest distinct reading times: a metric is missing only when several
    # instants passed without it, not while one message's readings are still arriving.
    instants: deque[datetime] = field(default_factory=lambda: deque(maxlen=8))
    deadline: datetime | None = None  # no reading at all past this: a dropout
    limit_s: float | None = None  # the shortest limit of its judged series
    scheduled: bool = False  # has an entry in the deadline heap
    active: bool = False


class DropoutDetector:
    """Deadlines sit in a heap, so ``tick`` costs O(log n) per expired device rather than a
    scan of the fleet (the engine ticks often; a city has 100,000 street lights)."""

    def __init__(
        self,
        params: DropoutParams | None = None,
        catalogue: Catalogue | None = None,
        offline: Callable[[str], bool] | None = None,
    ) -> None:
        self.p = params or DropoutParams()
        # Every reading of every device: a device's silence is judged against all its series
        # (declared as None, "everything", to the engine's routing).
        self.kinds: frozenset[str] | None = None
        self.metrics: frozenset[str] | None = None
        self.catalogue = catalogue or Catalogue()
        self.offline = offline or (lambda device_id: False)
        self._devices: dict[str, _Device] = {}
        self._heap: list[tuple[datetime, str]] = []

    def observe(self, reading: Reading) -> Iterable[Finding]:
        dev = self._devices.get(reading.device_id)
        if dev is None:
            dev = self._devices[reading.device_id] = _Device(reading.tenant_id, reading.kind)
        out: list[Finding] = []
        if not dev.instants or reading.time > dev.instants[-1]:
            dev.instants.append(reading.time)
            out += self._missing(reading.device_id, dev)
        s = dev.series.get(reading.metric)
        if s is None:
            s = dev.series[reading.metric] = _Series(reading.time)
            s.limit_s = self._limit_s(dev.kind, reading.metric, s)
        elif reading.time > s.last:
            gap = (reading.time - s.last).total_seconds()
            if s.active:
                s.active = False
                out.append(self._metric_clear(reading, gap))
            s.gaps.append(gap)
            s.count += 1
            s.last = reading.time
            if s.count <= 16 or s.count % 16 == 0:  # the cadence settles; re-learn it now and then
                s.limit_s = self._limit_s(dev.kind, reading.metric, s)
        if s.count >= self.p.min_readings:
            # Silent when nothing at all arrives for the shortest limit of its series: a
            # weather station's 60 s readings decide, not its 15-minute battery voltage.
            if dev.limit_s is None or s.limit_s < dev.limit_s:
                dev.limit_s = s.limit_s
            deadline = dev.instants[-1] + timedelta(seconds=dev.limit_s)
            if dev.deadline is None or deadline > dev.deadline:
                dev.deadline = deadline  # the heap entry is moved lazily, when it expires
            if not dev.scheduled:
                dev.scheduled = True
                heapq.heappush(self._heap, (dev.deadline, reading.device_id))
        if dev.active:
            dev.active = False
            out.append(self._device_clear(reading, dev))
        return out

    def _expected_s(self, kind: str, metric: str, s: _Series) -> float:
        profile = self.catalogue.interval_s(kind, metric) or 60
        learnt = median(s.gaps) if s.gaps else profile
        return max(float(profile), learnt)

    def _limit_s(self, kind: str, metric: str, s: _Series) -> float:
        return max(self.p.min_gap_s, self.p.factor * self._expected_s(kind, metric, s))

    def _metric_limit_s(self, s: _Series) -> float:
        return max(self.p.metric_min_s, self.p.metric_factor * s.limit_s)

    def _missing(self, device_id: str, dev: _Device) -> list[Finding]:
        """Metrics the device has stopped sending while it reports others (new instant)."""
        out: list[Finding] = []
        newest = dev.instants[-1]
        for metric, s in dev.series.items():
            if s.active or s.count < self.p.min_readings:
                continue
            if (newest - s.last).total_seconds() <= self._metric_limit_s(s):
                continue
            if sum(1 for t in dev.instants if t > s.last) < self.p.min_instants_after:
                continue
            s.active = True
            out.append(self._metric_open(device_id, dev, metric, s, newest))
        return out

    def tick(self, watermark: datetime) -> Iterable[Finding]:
        out: list[Finding] = []
        while self._heap and self._heap[0][0] < watermark:
            _, device_id = heapq.heappop(self._heap)
            dev = self._devices[device_id]
            dev.scheduled = False
            assert dev.deadline is not None
            if dev.deadline >= watermark:
                dev.scheduled = True
                # Readings came since: one heap entry per device, moved when it expires.
                heapq.heappush(self._heap, (dev.deadline, device_id))
                continue
            if dev.active:
                continue
            if self.offline(device_id):
                continue  # its last will fired: the connectivity alert covers the silence
            dev.active = True
            out.append(self._device_open(device_id, dev, watermark))
        return out

    def _device_open(self, device_id: str, dev: _Device, watermark: datetime) -> Finding:
        assert dev.deadline is not None
        last = max(s.last for s in dev.series.values())
        expected = min(self._expected_s(dev.kind, m, s) for m, s in dev.series.items())
        reason = (
            f"no reading of any metric since {last:%Y-%m-%d %H:%M:%S} UTC, "
            f"{duration(watermark - last)} of event time; expected every "
            f"{duration(expected)}, dropout after {self.p.factor:g} expected gaps "
            f"(at least {duration(self.p.min_gap_s)})"
        )
        return Finding(
            kind=KIND, device_id=device_id, key=DEVICE_KEY, active=True, severity="warning",
            time=dev.deadline, title=f"No data for {duration(watermark - last)}",
            reason=reason, value=(watermark - last).total_seconds(),
            threshold=(dev.deadline - last).total_seconds(),
        )  # fmt: skip

    def _metric_open(
        self, device_id: str, dev: _Device, metric: str, s: _Series, watermark: datetime
    ) -> Finding:
        limit = self._metric_limit_s(s)
        reason = (
            f"{metric} missing (not received, or rejected by ingest) since "
            f"{s.last:%Y-%m-%d %H:%M:%S} UTC "
            f"({duration(watermark - s.last)} of event time) while the device's other "
            f"metrics still arrive; "
            f"expected every {duration(self._expected_s(dev.kind, metric, s))}, dropout after "
            f"{duration(limit)}"
        )
        return Finding(
            kind=KIND, device_id=device_id, key=metric, active=True, severity="advisory",
            time=s.last + timedelta(seconds=limit), title=f"{metric} missing",
            reason=reason, metric=metric, value=(watermark - s.last).total_seconds(),
            threshold=limit,
        )  # fmt: skip

    def _metric_clear(self, reading: Reading, gap: float) -> Finding:
        return Finding(
            kind=KIND, device_id=reading.device_id, key=reading.metric, active=False,
            severity="advisory", time=reading.time, title=f"{reading.metric} back",
            reason=f"{reading.metric} reported again after a gap of {duration(gap)}",
            metric=reading.metric,
        )  # fmt: skip

    def _device_clear(self, reading: Reading, dev: _Device) -> Finding:
        return Finding(
            kind=KIND, device_id=reading.device_id, key=DEVICE_KEY, active=False,
            severity="warning", time=reading.time, title="Data flowing again",
            reason=f"{reading.metric} arrived at {reading.time:%H:%M:%S} UTC after the silence",
        )  # fmt: skip


class ConnectivityAlerts:
    """Is the device's connection known lost? One indexed look-up per dropout candidate."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __call__(self, device_id: str) -> bool:
        with self.conn.cursor(row_factory=tuple_row) as cur:
            row = cur.execute(
                """SELECT 1 FROM alerts WHERE device_id = %s AND kind = 'connectivity'
                     AND state IN ('open', 'acknowledged') LIMIT 1""",
                (device_id,),
            ).fetchone()
        return row is not None


def factory(settings: Settings, conn: Connection) -> DropoutDetector:
    from analytics.quality.config import dropout_params

    return DropoutDetector(dropout_params(settings), offline=ConnectivityAlerts(conn))
