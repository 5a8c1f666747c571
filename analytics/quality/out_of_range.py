"""Out of range: a value outside the profile's plausible ``min``/``max`` (a sensor fault).

Ingest refuses such values: ``ingest.readings`` dead-letters them with reason
``out_of_range`` so the telemetry table only holds plausible numbers, and the engine decodes
with ingest's own code, so these readings never reach a detector's ``observe``. They must
still raise an alert (a PM2.5 of 5,000 µg/m³ is a broken analyser someone has to visit), so
the factory's detector also tails the dead letters: at most every ``poll_s`` of wall time,
one indexed query for rows newer than the last seen id whose detail says "outside [".
That is the one exception to "no database reads after start": it reads only what the stream
by design withholds. Readings that do arrive through ``observe`` (an engine that forwards
rejected values, a test) are judged the same way; each (device, metric) has one state, so
seeing a value twice opens one alert.
"""

from __future__ import annotations

import logging
import re
import time as wallclock
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from psycopg import Connection
from psycopg.rows import tuple_row

from analytics.alerts import Finding, Reading
from analytics.quality.catalogue import Catalogue
from analytics.quality.wording import with_unit
from devices.profiles import MetricSpec
from ioc_core.settings import Settings

log = logging.getLogger(__name__)
KIND = "quality_out_of_range"
# ingest.readings._metric_problem writes "<name>: <value> outside [<min>, <max>]".
_DETAIL = re.compile(r"([a-z][a-z0-9_]*): (-?[0-9.]+(?:e[+-]?[0-9]+)?|-?inf|nan) outside \[")


@dataclass
class _State:
    active: bool = False
    last_out: datetime | None = None
    # The latest in-range reading times: the alert clears after ``clear_after`` of them in a
    # row, so a gusty series crossing its bound back and forth is one alert, not dozens.
    in_range: deque[datetime] = field(default_factory=lambda: deque(maxlen=CLEAR_AFTER))


CLEAR_AFTER = 3  # _Series keeps exactly this many in-range times (t1..t3): change both


class _Series:
    """One (device, metric): its kind's range resolved once, and its latest in-range reading
    times (``t1`` newest) until it is first out of range (then its ``_State`` holds them).
    Three slots, not a deque: a deque's block is ~600 bytes, and this is every series."""

    __slots__ = ("high", "kind", "low", "state", "t1", "t2", "t3", "unit")

    def __init__(self, kind: str, spec: MetricSpec) -> None:
        self.kind = kind
        self.low, self.high, self.unit = spec.min, spec.max, spec.unit
        self.t1: datetime | None = None
        self.t2: datetime | None = None
        self.t3: datetime | None = None
        self.state: _State | None = None


class OutOfRangeDetector:
    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self.catalogue = catalogue or Catalogue()
        # Every profile's every metric has a plausible range: no narrower routing to declare.
        self.kinds: frozenset[str] | None = None
        self.metrics: frozenset[str] | None = None
        self._series: dict[tuple[str, str], _Series] = {}

    def _resolve(self, reading: Reading, s: _Series | None) -> _Series | None:
        spec = self.catalogue.spec(reading.kind, reading.metric)
        if spec is None:
            return None
        if s is None:
            s = self._series[(reading.device_id, reading.metric)] = _Series(reading.kind, spec)
        else:  # the device was registered again as another kind
            s.kind, s.low, s.high, s.unit = reading.kind, spec.min, spec.max, spec.unit
        return s

    def observe(self, reading: Reading) -> Iterable[Finding]:
        # Every reading of the fleet: one dict look-up and, for a series never out of range,
        # an append to its ring of in-range times.
        s = self._series.get((reading.device_id, reading.metric))
        if s is None or s.kind != reading.kind:
            s = self._resolve(reading, s)
            if s is None:
                return ()
        unit = s.unit
        if s.low <= reading.value <= s.high:
            state = s.state
            if state is None:  # the common case: a series that has never been out of range
                if s.t1 is None or reading.time > s.t1:
                    s.t3, s.t2, s.t1 = s.t2, s.t1, reading.time
                return ()
            if state.in_range and reading.time <= state.in_range[-1]:
                return ()
            state.in_range.append(reading.time)
            return self._maybe_clear(reading, state, unit)
        state = s.state
        if state is None:
            state = s.state = _State()
            state.in_range.extend(t for t in (s.t3, s.t2, s.t1) if t is not None)
            s.t1 = s.t2 = s.t3 = None
        if state.last_out is None or reading.time > state.last_out:
            state.last_out = reading.time
        out: list[Finding] = []
        if not state.active:
            state.active = True
            low, high = s.low, s.high
            bound = high if reading.value > high else low
            side = "above the maximum" if reading.value > high else "below the minimum"
            reason = (
                f"{reading.metric} read {with_unit(reading.value, unit)}, {side} "
                f"{with_unit(bound, unit)} the {reading.kind} profile allows (plausible range "
                f"{with_unit(low, unit)} to {with_unit(high, unit)}): a sensor or "
                f"transmission fault, not a real value; ingest keeps it out of the telemetry"
            )
            out.append(Finding(
                kind=KIND, device_id=reading.device_id, key=reading.metric, active=True,
                severity="warning", time=reading.time,
                title=f"{reading.metric} out of range ({with_unit(reading.value, unit)})",
                reason=reason, metric=reading.metric, value=reading.value, threshold=bound,
            ))  # fmt: skip
        # Seen late (the dead-letter tail lags the stream): plausible readings may already
        # have followed it, and the fault may be over as soon as it is recorded.
        out.extend(self._maybe_clear(reading, state, unit))
        return out

    def _maybe_clear(self, reading: Reading, state: _State, unit: str) -> tuple[Finding, ...]:
        if not state.active or state.last_out is None:
            return ()
        after = [t for t in state.in_range if t > state.last_out]
        if len(after) < CLEAR_AFTER:
            return ()
        state.active = False
        at = after[CLEAR_AFTER - 1]
        return (Finding(
            kind=KIND, device_id=reading.device_id, key=reading.metric, active=False,
            severity="warning", time=at, title=f"{reading.metric} back in range",
            reason=f"{reading.metric} read plausible values {CLEAR_AFTER} times in a row "
            f"since its last out-of-range reading at {state.last_out:%H:%M:%S} UTC",
            metric=reading.metric,
        ),)  # fmt: skip

    def tick(self, watermark: datetime) -> Iterable[Finding]:
        return ()


class DeadLetterTail:
    """New out-of-range dead letters since the last call, as readings (see the module doc)."""

    def __init__(self, conn: Connection, *, poll_s: float) -> None:
        self.conn = conn
        self.poll_s = poll_s
        self._next_poll = 0.0
        row = self._one("SELECT coalesce(max(id), 0) FROM dead_letters")
        self.cursor: int = int(str(row[0])) if row else 0

    def _one(self, query: str) -> tuple[object, ...] | None:
        with self.conn.cursor(row_factory=tuple_row) as cur:
            return cur.execute(query).fetchone()

    def poll(self) -> list[Reading]:
        now = wallclock.monotonic()
        if now < self._next_poll:
            return []
        self._next_poll = now + self.poll_s
        with self.conn.cursor(row_factory=tuple_row) as cur:
            rows = cur.execute(
                """SELECT dl.id, dl.received_at, dl.detail, dl.payload, d.id, d.tenant_id,
                          d.kind, d.commune_code
                   FROM dead_letters dl JOIN devices d ON d.id = dl.device_id
                   WHERE dl.id > %s AND dl.detail LIKE '%%outside [%%'
                   ORDER BY dl.id LIMIT 10000""",
                (self.cursor,),
            ).fetchall()
        out: list[Reading] = []
        for dl_id, received_at, detail, payload, dev, tenant, kind, commune in rows:
            self.cursor = max(self.cursor, int(dl_id))
            at = _payload_time(bytes(payload)) or received_at
            for metric, value in _DETAIL.findall(detail):
                out.append(Reading(dev, tenant, kind, commune, metric, at, float(value)))
        return out


def _payload_time(payload: bytes) -> datetime | None:
    """The device's own timestamp (native v1 ``ts``): event time, not arrival time."""
    try:
        body = orjson.loads(payload)
        at = datetime.fromisoformat(body["ts"]) if isinstance(body, dict) else None
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return at if at is not None and at.tzinfo is not None else None


class OutOfRangeWithDeadLetters(OutOfRangeDetector):
    def __init__(self, tail: DeadLetterTail, catalogue: Catalogue | None = None) -> None:
        super().__init__(catalogue)
        self.tail = tail

    def tick(self, watermark: datetime) -> Iterable[Finding]:
        out: list[Finding] = []
        for reading in self.tail.poll():
            out.extend(self.observe(reading))
        return out


def factory(settings: Settings, conn: Connection) -> OutOfRangeDetector:
    if settings.quality_out_of_range_poll_s <= 0:
        return OutOfRangeDetector()
    return OutOfRangeWithDeadLetters(
        DeadLetterTail(conn, poll_s=settings.quality_out_of_range_poll_s)
    )
