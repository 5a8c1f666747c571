"""``ioc analytics alerts run``: the engine as its own MQTT consumer.

paho's network thread only appends messages to a deque; the engine thread takes them in
batches, evaluates, commits the batch's findings in one transaction and only then acknowledges
the batch to the broker (QoS 1, persistent session), so a crash re-delivers rather than loses
what was not judged. Readings come through a shared subscription (``alerts_shared_group``);
status messages through a plain one, because brokers do not send retained messages to shared
subscriptions and the engine needs each device's retained ``online`` to tell a last will from
a goodbye. A notifier thread delivers the outbox (:mod:`.notify`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from analytics.alerts.engine import AlertEngine
from analytics.alerts.escalation import escalate_due
from analytics.alerts.merge import StreamMerge
from analytics.alerts.model import Finding
from analytics.alerts.notify import Notifier
from devices.readings_stream import RECORD, readings_filter
from devices.topics import Channel, subscription
from ingest.formats.iota import TOPIC_FILTERS as IOTA_FILTERS
from ingest.paho_tuning import IngestClient, ack_batch
from ioc_core.settings import Settings

__all__ = ["EngineRunner", "reading_filters"]

log = logging.getLogger(__name__)

# Up to this many messages (or readings-stream batches holding this many rows) judged per
# commit: bounds a batch's latency under load while one transaction still covers many
# findings when a front of pollution crosses the city.
_BATCH = 500
_BATCH_ROWS = 5_000
_READINGS_PREFIX = readings_filter()[:-1]
_POLL_S = 0.002
# Pause the network thread above this many waiting messages: the broker's in-flight window
# then fills and it stops sending (backpressure, as ingest does).
_MAX_PENDING = 50_000
# ...or above this many payload bytes: a readings-stream message holds up to 2,500 readings.
_MAX_PENDING_BYTES = 64 * 2**20
_SUMMARY_EVERY_S = 60.0
# Pacing of commit retries while the database is away; the batch stays unacknowledged.
_RETRY_FIRST_S, _RETRY_MAX_S = 0.5, 10.0


def reading_filters(settings: Settings) -> list[str]:
    """Ingest's stored batches (``alerts_input`` readings, the default), or the devices' own
    topics decoded again here (telemetry: an engine run without ingest, or beside an older one).
    """
    if settings.alerts_input == "readings":
        filters = [readings_filter()]
    else:
        filters = [subscription(Channel.TELEMETRY), subscription(Channel.SENML), *IOTA_FILTERS]
    group = settings.alerts_shared_group
    return [f"$share/{group}/{f}" for f in filters] if group else filters


@dataclass(slots=True)
class _Message:
    topic: str
    payload: bytes
    received: datetime
    mid: int
    qos: int


class EngineRunner:
    def __init__(self, settings: Settings, *, client_id: str | None = None) -> None:
        self.s = settings
        self.client_id = client_id or settings.alerts_client_id
        self.subscribed = threading.Event()
        self.ready = threading.Event()
        self._pending: deque[_Message] = deque()
        self._in_bytes = self._out_bytes = 0
        self._room = threading.Event()
        self._room.set()
        self.engine: AlertEngine | None = None
        self.notifier = Notifier(settings, client_id=f"{self.client_id}-notify")
        self._stop = threading.Event()
        self._next_rules = 0.0
        # Several ingest workers' streams, judged in event-time order (merge.py).
        self._merge: StreamMerge[_Message] = StreamMerge(settings.alerts_merge_idle_s)

    # --- network thread -----------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, rc: object,
                    props: object = None) -> None:  # fmt: skip
        if getattr(rc, "is_failure", False):
            log.error("broker refused the connection: %s", rc)
            return
        filters = [*reading_filters(self.s), subscription(Channel.STATUS)]
        client.subscribe([(f, 1) for f in filters])
        log.info("alert engine subscribed to %s", filters)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        payload = bytes(msg.payload)
        self._pending.append(_Message(msg.topic, payload, datetime.now(UTC), msg.mid, msg.qos))
        self._in_bytes += len(payload)
        if self._full():
            self._room.clear()
            self._room.wait()

    def _full(self, share: float = 1.0) -> bool:
        # Each counter has one writer (this thread counts in, the engine thread out): no lock.
        pending_bytes = self._in_bytes - self._out_bytes
        return len(self._pending) >= _MAX_PENDING * share or pending_bytes >= (
            _MAX_PENDING_BYTES * share
        )

    # --- engine thread ------------------------------------------------------------------
    def _drain(self, engine: AlertEngine, client: mqtt.Client) -> int:
        """Judge what waits; returns how many messages and readings it took (0: idle)."""
        batch: list[_Message] = []
        rows = 0
        while self._pending and len(batch) < _BATCH and rows < _BATCH_ROWS:
            message = self._pending.popleft()
            batch.append(message)
            self._out_bytes += len(message.payload)
            if message.topic.startswith(_READINGS_PREFIX):
                rows += len(message.payload) // RECORD.itemsize
        if not self._room.is_set() and not self._full(0.5):
            self._room.set()
        if not batch and not self._merge.held_messages:
            return 0
        findings: list[Finding] = []
        acks: list[_Message] = []
        now = time.monotonic()
        for m in batch:
            if not m.topic.startswith(_READINGS_PREFIX):
                findings += engine.handle(m.topic, m.payload, m.received)
                acks.append(m)
                continue
            records = engine.readings_of(m.payload)
            if records is None:
                acks.append(m)  # refused, and logged: acknowledged, never redelivered
            else:
                self._merge.add(m.topic, records, m, now)
        ready, released = self._merge.release(now)
        if len(ready):
            findings += engine.judge_records(ready)
        self._commit(engine, findings)
        ack_batch(client, [m.mid for m in (*acks, *released) if m.qos == 1])
        return len(batch) + len(ready)

    def _commit(self, engine: AlertEngine, findings: list[Finding]) -> None:
        """Commit, retrying through a database outage: the findings are kept and the batch
        is not acknowledged until they are stored (stopping meanwhile leaves the batch to be
        redelivered to the next run)."""
        if not findings:
            return
        delay = _RETRY_FIRST_S
        while True:
            try:
                if engine.commit(findings):
                    self.notifier.kick()
                return
            except psycopg.OperationalError as exc:
                log.warning("database unavailable (%s); %d findings wait, retry in %.1fs",
                            exc, len(findings), delay)  # fmt: skip
                if self._stop.wait(delay):
                    raise
                delay = min(delay * 2, _RETRY_MAX_S)
                self._reconnect(engine)

    def _reconnect(self, engine: AlertEngine) -> None:
        try:
            engine.use_connection(self._connect())
        except psycopg.OperationalError as exc:
            log.warning("still no database: %s", exc)

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.s.postgres_dsn, autocommit=True, connect_timeout=10)

    def _housekeeping(self, engine: AlertEngine) -> None:
        """Escalation and rule reloads: skipped, not fatal, while the database is away."""
        try:
            if escalate_due(engine.conn, self.s.alerts_escalate_after_s,
                            self.s.alerts_escalation_max_level):  # fmt: skip
                self.notifier.kick()
            if time.monotonic() >= self._next_rules:
                engine.reload_rules()
                self._next_rules = time.monotonic() + self.s.alerts_rules_reload_s
        except psycopg.OperationalError as exc:
            log.warning("housekeeping skipped, database unavailable: %s", exc)
            self._reconnect(engine)

    def run(self, stop: threading.Event) -> None:
        self._stop = stop
        engine = self.engine = AlertEngine(self.s, self._connect())
        notifier_thread = threading.Thread(target=self.notifier.run, args=(stop,),
                                           name="alerts-notifier", daemon=True)  # fmt: skip
        notifier_thread.start()
        client = IngestClient(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                              clean_session=False, manual_ack=True)  # fmt: skip
        if self.s.mqtt_username:
            client.username_pw_set(self.s.mqtt_username, self.s.mqtt_password)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_: self.subscribed.set()
        client.on_message = self._on_message
        client.max_inflight_messages_set(5_000)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.connect_async(self.s.mqtt_host, self.s.mqtt_port, keepalive=30)
        client.loop_start()
        self.ready.set()
        now = time.monotonic()
        next_tick, next_summary = now, now
        self._next_rules = now + self.s.alerts_rules_reload_s
        try:
            while not stop.is_set():
                if not self._drain(engine, client):
                    time.sleep(_POLL_S)
                now = time.monotonic()
                if now >= next_tick:
                    self._commit(engine, engine.tick())
                    self._housekeeping(engine)
                    next_tick = now + self.s.alerts_tick_s
                if now >= next_summary:
                    log.info("alert engine %s watermark=%s", engine.stats, engine.watermark)
                    next_summary = now + _SUMMARY_EVERY_S
        except psycopg.OperationalError:
            if not stop.is_set():
                raise
        finally:
            # What was left unjudged (redelivered to the next run) and how far event time got:
            # an engine that cannot keep up shows it here (and ioc bench alerts reads it).
            log.info("alert engine stopped: %s watermark=%s unjudged_messages=%d",
                     engine.stats, engine.watermark and engine.watermark.isoformat(),
                     len(self._pending) + self._merge.held_messages)  # fmt: skip
            self._room.set()
            client.loop_stop()
            client.disconnect()
            notifier_thread.join(timeout=10)
            engine.conn.close()
