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
from dataclasses import dataclass
from datetime import datetime, timedelta

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


class _Series:
    __slots__ = ("active", "count", "gaps", "last", "limit_s", "metric_limit_s", "profile_s")

    def __init__(self, last: datetime, profile_s: int) -> None:
        self.last = last
        self.gaps: deque[float] = deque(maxlen=9)
        self.count = 1
        self.profile_s = profile_s  # the profile's interval (60 s when it names none)
        self.limit_s = 0.0
        self.metric_limit_s = 0.0  # the limit for this metric alone (see _metric_limit_s)
        self.active = False


class _Device:
    __slots__ = ("active", "basis", "deadline", "instants", "kind", "limit_s", "scheduled",
                 "series", "tenant_id")  # fmt: skip

    def __init__(self, tenant_id: str, kind: str) -> None:
        self.tenant_id = tenant_id
        self.kind = kind
        self.series: dict[str, _Series] = {}
        # The device's latest distinct reading times: a metric is missing only when several
        # instants passed without it, not while one message's readings are still arriving.
        self.instants: deque[datetime] = deque(maxlen=8)
        self.deadline: datetime | None = None  # no reading at all past this: a dropout
        self.limit_s: float | None = None  # the shortest limit of its judged series
        # The (latest instant, limit) the deadline was last computed from: every reading of
        # an instant would otherwise compute the same deadline again.
        self.basis: tuple[datetime, float] | None = None
        self.scheduled = False  # has an entry in the deadline heap
        self.active = False


def _median(values: Iterable[float]) -> float:
    """statistics.median's arithmetic, without its overhead (nine gaps, often)."""
    data = sorted(values)
    n = len(data)
    if n % 2:
        return data[n // 2]
    i = n // 2
    return (data[i - 1] + data[i]) / 2


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
        # Every reading of every device: device-level work (the missing-metric scan, the
        # deadline) once per new instant, the cadence re-learnt only when its gaps changed.
        dev = self._devices.get(reading.device_id)
        if dev is None:
            dev = self._devices[reading.device_id] = _Device(reading.tenant_id, reading.kind)
        out: list[Finding] | None = None
        time = reading.time
        instants = dev.instants
        if not instants or time > instants[-1]:
            instants.append(time)
            if dev.series:
                out = self._missing(reading.device_id, dev)
        s = dev.series.get(reading.metric)
        if s is None:
            profile = self.catalogue.interval_s(dev.kind, reading.metric) or 60
            s = dev.series[reading.metric] = _Series(time, profile)
            self._learn(s)
        elif time > s.last:
            gap = (time - s.last).total_seconds()
            if s.active:
                s.active = False
                if out is None:
                    out = []
                out.append(self._metric_clear(reading, gap))
            s.gaps.append(gap)
            s.count += 1
            s.last = time
            if s.count <= 16 or s.count % 16 == 0:  # the cadence settles; re-learn it now and then
                self._learn(s)
        if s.count >= self.p.min_readings:
            # Silent when nothing at all arrives for the shortest limit of its series: a
            # weather station's 60 s readings decide, not its 15-minute battery voltage.
            limit = dev.limit_s
            if limit is None or s.limit_s < limit:
                limit = dev.limit_s = s.limit_s
            basis = dev.basis
            newest = instants[-1]
            deadline = dev.deadline
            if basis is None or basis[0] is not newest or basis[1] != limit:
                dev.basis = (newest, limit)
                candidate = newest + timedelta(seconds=limit)
                if deadline is None or candidate > deadline:
                    # The heap entry is moved lazily, when it expires.
                    deadline = dev.deadline = candidate
            if not dev.scheduled:
                assert deadline is not None  # set with the first basis
                dev.scheduled = True
                heapq.heappush(self._heap, (deadline, reading.device_id))
        if dev.active:
            dev.active = False
            if out is None:
                out = []
            out.append(self._device_clear(reading, dev))
        return out or ()

    def _learn(self, s: _Series) -> None:
        """_limit_s and _metric_limit_s, inlined: a new series re-learns at each of its first
        16 readings."""
        p = self.p
        expected = float(s.profile_s)
        if s.gaps:
            data = sorted(s.gaps)
            n = len(data)
            learnt = data[n // 2] if n % 2 else (data[n // 2 - 1] + data[n // 2]) / 2
            expected = max(expected, learnt)
        s.limit_s = limit = max(p.min_gap_s, p.factor * expected)
        s.metric_limit_s = max(p.metric_min_s, p.metric_factor * limit)

    def _expected_s(self, s: _Series) -> float:
        learnt = _median(s.gaps) if s.gaps else s.profile_s
        return max(float(s.profile_s), learnt)

    def _limit_s(self, s: _Series) -> float:
        return max(self.p.min_gap_s, self.p.factor * self._expected_s(s))

    def _metric_limit_s(self, s: _Series) -> float:
        return max(self.p.metric_min_s, self.p.metric_factor * s.limit_s)

    def _missing(self, device_id: str, dev: _Device) -> list[Finding] | None:
        """Metrics the device has stopped sending while it reports others (new instant)."""
        out: list[Finding] | None = None
        instants = dev.instants
        newest = instants[-1]
        after = self.p.min_instants_after
        # Instants strictly increase: "at least ``after`` instants later than s.last" is
        # instants[-after] > s.last, one comparison, checked first (it rules out every metric
        # of the last message or two).
        enough = after <= len(instants)
        cutoff = instants[-after] if 0 < after <= len(instants) else None
        for metric, s in dev.series.items():
            if s.active or s.count < self.p.min_readings:
                continue
            if not enough or (cutoff is not None and not cutoff > s.last):
                continue
            if (newest - s.last).total_seconds() <= s.metric_limit_s:
                continue
            s.active = True
            if out is None:
                out = []
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
        expected = min(self._expected_s(s) for s in dev.series.values())
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
        limit = s.metric_limit_s
        reason = (
            f"{metric} missing (not received, or rejected by ingest) since "
            f"{s.last:%Y-%m-%d %H:%M:%S} UTC "
            f"({duration(watermark - s.last)} of event time) while the device's other "
            f"metrics still arrive; "
            f"expected every {duration(self._expected_s(s))}, dropout after "
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
