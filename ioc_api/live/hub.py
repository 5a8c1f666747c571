"""One thread per API process that learns what changed and fans it out to live subscribers.

It LISTENs on ``ioc_alerts`` (the trigger of migration 0014, contract C4) and, once a second,
sweeps the newest readings into ``telemetry_latest`` (:mod:`ioc_api.services.latest`); both
kinds of change become :class:`LiveEvent` s put on each subscriber's asyncio queue. A thread,
not a task, because psycopg's blocking ``notifies()`` is the simplest correct way to wait on a
socket and a sweep; it never touches the event loop except through ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from psycopg import Connection, OperationalError
from psycopg import Error as PsycopgError

from ioc_api.services.latest import LatestChange, sweep_latest
from ioc_core.db import connect_db, fetch_all
from ioc_core.settings import Settings

log = logging.getLogger(__name__)

EventType = Literal["alert", "latest"]
QUEUE_SIZE: Final = 10_000  # a slow client loses events beyond this, and is told so
TICK_S: Final = 1.0
# How soon the thread notices stop(): a tick's wait is cut into slices this long, so an API
# shutting down (every TestClient in the tests, a restart in production) does not wait out
# the rest of a one-second tick.
STOP_POLL_S: Final = 0.05


@dataclass(frozen=True)
class LiveEvent:
    type: EventType
    tenant_id: str | None
    device_kind: str | None
    commune_code: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class LiveFilter:
    tenant: str | None  # None: city-wide principal
    kinds: frozenset[str] = frozenset()  # device kinds; empty: all
    communes: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset({"alert", "latest"})

    def admits(self, event: LiveEvent) -> bool:
        if self.tenant is not None and event.tenant_id != self.tenant:
            return False
        if event.type not in self.types:
            return False
        if self.kinds and event.device_kind not in self.kinds:
            return False
        return not self.communes or event.commune_code in self.communes


@dataclass(eq=False)
class Subscription:
    filter: LiveFilter
    queue: asyncio.Queue[LiveEvent] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: int = 0

    def offer(self, event: LiveEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1


class LiveHub:
    def __init__(self, settings: Settings, loop: asyncio.AbstractEventLoop) -> None:
        self._settings = settings
        self._loop = loop
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ioc-live-hub", daemon=True)
        self.sweeps = 0  # completed ticks: tests wait on it instead of sleeping blindly

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def subscribe(self, live_filter: LiveFilter) -> Subscription:
        sub = Subscription(live_filter)
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def _publish(self, events: list[LiveEvent]) -> None:
        with self._lock:
            subs = list(self._subs)
        for event in events:
            for sub in subs:
                if sub.filter.admits(event):
                    with contextlib.suppress(RuntimeError):  # loop closed at shutdown
                        self._loop.call_soon_threadsafe(sub.offer, event)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with connect_db(self._settings, autocommit=True) as conn:
                    self._serve(conn)
            except OperationalError as exc:
                log.warning("live hub lost its database connection: %s; retrying", exc)
                self._stop.wait(2.0)
            except PsycopgError:  # a loop that never dies: log, wait, start over
                log.exception("live hub failed; restarting in 5 s")
                self._stop.wait(5.0)

    def _serve(self, conn: Connection) -> None:
        conn.execute("LISTEN ioc_alerts")
        since = datetime.now(UTC)  # used only while another process holds the sweep
        while not self._stop.is_set():
            payloads = self._wait_tick(conn)
            if self._stop.is_set():
                return
            events = _alert_events(conn, payloads)
            changes = sweep_latest(conn, since=since)
            if changes:
                since = max(since, min(max(c.time for c in changes), datetime.now(UTC)))
            events += [_latest_event(c) for c in changes]
            if events:
                self._publish(events)
            self.sweeps += 1

    def _wait_tick(self, conn: Connection) -> list[str]:
        """The alert notifications of one TICK_S, or of less if stop() comes first."""
        payloads: list[str] = []
        end = time.monotonic() + TICK_S
        while not self._stop.is_set() and (left := end - time.monotonic()) > 0:
            payloads += [n.payload for n in conn.notifies(timeout=min(left, STOP_POLL_S))]
        return payloads


def _latest_event(change: LatestChange) -> LiveEvent:
    return LiveEvent("latest", change.tenant_id, change.kind, change.commune_code,
                     change.model_dump(mode="json"))  # fmt: skip


def _alert_events(conn: Connection, payloads: list[str]) -> list[LiveEvent]:
    """Alert notifications, with the device's kind and commune the filters need."""
    notes = []
    for payload in payloads:
        try:
            notes.append(json.loads(payload))
        except ValueError:
            log.warning("ignoring a malformed ioc_alerts notification: %.200s", payload)
    ids = sorted({n["device_id"] for n in notes if n.get("device_id")})
    where = {row[0]: (row[1], row[2]) for row in fetch_all(
        conn, "SELECT id, kind, commune_code FROM devices WHERE id = ANY(%s)", (ids,)
    )} if ids else {}  # fmt: skip
    events = []
    for note in notes:
        kind, commune = where.get(note.get("device_id") or "", (None, None))
        data = {**note, "device_kind": kind, "commune_code": commune}
        events.append(LiveEvent("alert", note.get("tenant_id"), kind, commune, data))
    return events
