"""The ingest loop: paho-mqtt in, batches out, acknowledgements only after the commit.

Two threads. paho's network thread decodes each message (pure CPU, never raises) and appends
it to a pending deque (appends and pops are atomic, so the hot path takes no lock); when
``ingest_max_pending`` messages wait it pauses, the broker's in-flight window fills and the
broker stops sending: that is the backpressure. The writer thread (the caller of ``run``) takes
up to ``ingest_batch_size`` messages once that many wait or the oldest has waited
``ingest_flush_interval_s``, commits them in one transaction, then acknowledges the batch in
one write. A database outage keeps the batch and retries it:
nothing is acknowledged that is not stored, so nothing is lost.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import start_http_server

from devices.readings_stream import pack_records, readings_topic, to_records
from devices.topics import Channel, subscription
from ingest.decode import decode
from ingest.paho_tuning import IngestClient, ack_batch
from ingest.readings import DeadLetter, Decoded, Limits, Row
from ingest.registry_cache import RegistryCache
from ingest.stats import IngestStats
from ingest.writer import BatchMeta, BatchWriter, FlushResult
from ioc_core.errors import PortInUseError
from ioc_core.settings import Settings

log = logging.getLogger(__name__)

# Retry pacing when the database is down; the batch waits in memory, unacknowledged.
_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 10.0
# How often the writer looks at the pending deque while it is below a batch: short against
# the flush interval, long enough that polling costs nothing measurable.
_POLL_S = 0.005
# How long a committed batch waits for the broker to take its readings-stream messages.
_STREAM_WAIT_S = 5.0
# Worth retrying at once: the database is fine, two workers just collided.
_TRANSIENT = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


def _taken(info: mqtt.MQTTMessageInfo) -> bool:
    """Has the broker acknowledged it? (paho raises instead of answering while disconnected.)"""
    try:
        return info.is_published()
    except (RuntimeError, ValueError):
        return False


def _merge_newest(into: dict[int, datetime], newer: dict[int, datetime]) -> None:
    """Per device, keep the newer of the two newest-reading times (in place: this runs per
    batch, and the deferred map holds every device seen since the last write)."""
    for key, ts in newer.items():
        if key not in into or into[key] < ts:
            into[key] = ts


def topic_filters(settings: Settings) -> list[str]:
    """Everything ingest reads; behind a shared group when several workers split the load.

    Native telemetry and SenML on every tenant's devices, and the FIWARE IoT Agent JSON topics,
    which carry an API key instead of a tenant.
    """
    from ingest.formats.iota import TOPIC_FILTERS as IOTA_FILTERS

    filters = [subscription(Channel.TELEMETRY), subscription(Channel.SENML), *IOTA_FILTERS]
    if settings.ingest_shared_group:
        return [f"$share/{settings.ingest_shared_group}/{f}" for f in filters]
    return filters


@dataclass(slots=True)
class _Item:
    decoded: Decoded
    mid: int
    qos: int
    arrived: float  # monotonic
    # The message as received, for decoding again when the registry was unreachable.
    topic: str
    payload: bytes
    received: datetime


class IngestWorker:
    def __init__(
        self,
        settings: Settings,
        *,
        topic_filter: str | list[str] | None = None,
        client_id: str | None = None,
        dsn: str | None = None,
    ) -> None:
        self.s = settings
        if isinstance(topic_filter, str):
            topic_filter = [topic_filter]
        self.filters = topic_filter or topic_filters(settings)
        self.client_id = client_id or settings.ingest_client_id
        self.dsn = dsn or settings.postgres_dsn
        self.limits = Limits(
            max_payload_bytes=settings.ingest_max_payload_bytes,
            max_future=timedelta(seconds=settings.ingest_max_future_s),
            max_past=timedelta(seconds=settings.ingest_max_past_s),
        )
        self.stats = IngestStats()
        self.subscribed = threading.Event()
        self._pending: deque[_Item] = deque()
        self._room = threading.Event()  # set while the pending deque has room
        self._room.set()
        self._cache: RegistryCache | None = None
        self._client: mqtt.Client | None = None
        self._stream: mqtt.Client | None = None
        self._unseen: dict[int, datetime] = {}  # stored, last_seen not yet written
        self._seen_at = -float("inf")
        # A client id is free text to the broker; the stream's topic needs a segment.
        source = re.sub(r"[^a-z0-9_-]", "-", self.client_id.lower()).lstrip("_-")[:64] or "ingest"
        self.readings_topic = readings_topic(source) if settings.ingest_publish_readings else None

    # --- network thread -------------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, rc: object,
                    props: object = None) -> None:  # fmt: skip
        if getattr(rc, "is_failure", False):
            log.error("broker refused the connection: %s", rc)
            return
        client.subscribe([(f, 1) for f in self.filters])
        self.stats.metrics.connected.set(1)
        log.info("connected to %s as %s, subscribed to %s", self.s.mqtt_url, self.client_id,
                 self.filters)  # fmt: skip

    def _on_disconnect(self, *args: object) -> None:
        self.stats.metrics.connected.set(0)
        log.warning("disconnected from the broker; paho reconnects")

    def _on_subscribe(self, *args: object) -> None:
        self.subscribed.set()

    def _decode(self, topic: str, payload: bytes, received: datetime) -> Decoded:
        assert self._cache is not None
        try:
            return decode(
                topic, payload, received_at=received, cache=self._cache, limits=self.limits
            )
        except Exception as exc:  # a bug must park the message, not kill the loop
            log.exception("decode failed for topic %s", topic)
            return Decoded(dead=DeadLetter(topic, "internal_error", repr(exc), payload, received))

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        received = datetime.now(UTC)
        payload = bytes(msg.payload)
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # brokers should refuse these; never let one kill the loop
            topic = repr(msg._topic)
            decoded = Decoded(
                dead=DeadLetter(topic, "bad_topic", "topic is not UTF-8", payload, received)
            )
        else:
            decoded = self._decode(topic, payload, received)
        while len(self._pending) >= self.s.ingest_max_pending:
            # Backpressure: stop reading until the writer catches up. Clear, then look again,
            # so a writer that emptied the deque in between cannot leave us waiting; the
            # timeout is a second guard.
            self._room.clear()
            if len(self._pending) < self.s.ingest_max_pending:
                break
            self._room.wait(0.5)
        self._pending.append(_Item(decoded, msg.mid, msg.qos, time.monotonic(), topic, payload,
                                   received))  # fmt: skip

    # --- writer thread --------------------------------------------------------------------
    def _take_batch(self, stop: threading.Event) -> list[_Item]:
        pending = self._pending
        size = self.s.ingest_batch_size
        while not stop.is_set():
            if len(pending) >= size:
                break
            if pending and time.monotonic() - pending[0].arrived >= self.s.ingest_flush_interval_s:
                break
            if self._unseen and self._last_seen_due():
                break  # an empty batch: the caller writes the deferred freshness
            time.sleep(_POLL_S)
        batch = [pending.popleft() for _ in range(min(size, len(pending)))]
        self.stats.metrics.pending.set(len(pending))
        self._room.set()
        return batch

    def _gather(self, batch: list[_Item]) -> tuple[list[Row], list[DeadLetter], BatchMeta]:
        rows: list[Row] = []
        dead = []
        newest: dict[int, datetime] = {}
        hours: dict[datetime, int] = {}
        for item in batch:
            d = item.decoded
            if d.dead is not None:
                dead.append(d.dead)
            if d.rows:
                rows.extend(d.rows)
                # One timestamp per native message: read it once. Formats with several
                # (SenML, multi-measure) are walked row by row.
                for ts, key, _, _ in d.rows[:1] if d.single_time else d.rows:
                    if key not in newest or newest[key] < ts:
                        newest[key] = ts
                    hour = ts.replace(minute=0, second=0, microsecond=0)
                    hours[hour] = hours.get(hour, 0) + (len(d.rows) if d.single_time else 1)
        meta = BatchMeta(newest=dict(sorted(newest.items())), hours=dict(sorted(hours.items())))
        return rows, dead, meta

    def _undeferred(self, batch: list[_Item]) -> int:
        """Decode again what waited for the registry; returns how many still wait."""
        waiting = 0
        for item in batch:
            if item.decoded.deferred:
                item.decoded = self._decode(item.topic, item.payload, item.received)
                waiting += item.decoded.deferred
        return waiting

    def _last_seen_due(self) -> bool:
        return time.monotonic() - self._seen_at >= self.s.ingest_freshness_interval_s

    def _write(
        self, writers: list[BatchWriter], batch: list[_Item]
    ) -> tuple[FlushResult, np.ndarray]:
        """Store the batch; also returns the records stored, for the readings stream."""
        if not writers:
            writers.append(BatchWriter(psycopg.connect(self.dsn, connect_timeout=10)))
        rows, dead, meta = self._gather(batch)
        # One conversion for the COPY and for the readings stream published after it.
        records = to_records(rows)
        # devices.last_seen: at most every ingest_freshness_interval_s, with everything
        # deferred since; each statement updates a row per device, as costly as the COPY.
        due = self._last_seen_due()
        batch_newest = meta.newest
        if due:
            newest = dict(self._unseen)
            _merge_newest(newest, batch_newest)
            meta = BatchMeta(newest=dict(sorted(newest.items())), hours=meta.hours)
        else:
            meta = BatchMeta(newest={}, hours=meta.hours)
        try:
            result = writers[0].write(records, dead, meta)
        except (psycopg.DataError, psycopg.IntegrityError, UnicodeError, ValueError):
            # Something in one message the database will not take, which validation did not
            # foresee. Writing the batch message by message isolates it, so one poison
            # message cannot stop the rest or come back forever as redelivery.
            log.exception("batch refused by the database; writing it message by message")
            return self._write_one_by_one(writers[0], batch)
        # Only once the rows are stored do their devices count as seen.
        if due:
            self._unseen = {}
            self._seen_at = time.monotonic()
        else:
            _merge_newest(self._unseen, batch_newest)
        return result, records

    def _write_last_seen(self, writers: list[BatchWriter]) -> None:
        """The deferred freshness on its own, when no batch came to carry it."""
        try:
            if not writers:
                writers.append(BatchWriter(psycopg.connect(self.dsn, connect_timeout=10)))
            writers[0].write_last_seen(dict(sorted(self._unseen.items())))
        except psycopg.OperationalError as exc:
            log.warning("last_seen not written, database unavailable: %s", exc)
            if writers:
                writers.pop().conn.close()
            self._seen_at = time.monotonic()  # try again an interval later
            return
        self._unseen = {}
        self._seen_at = time.monotonic()

    def _write_one_by_one(
        self, writer: BatchWriter, batch: list[_Item]
    ) -> tuple[FlushResult, np.ndarray]:
        total = FlushResult(0, 0, 0, 0, staged=True)
        stored = []  # only what the database took goes on the readings stream
        for item in batch:
            rows, dead, meta = self._gather([item])
            records = to_records(rows)
            try:
                result = writer.write(records, dead, meta)
                stored.append(records)
            except (psycopg.DataError, psycopg.IntegrityError, UnicodeError, ValueError) as exc:
                log.error("message on %s refused by the database: %s", item.topic, exc)
                poison = DeadLetter(
                    repr(item.topic), "internal_error", f"refused by the database: {exc!r}",
                    item.payload, item.received,
                )  # fmt: skip
                result = writer.write(to_records([]), [poison], BatchMeta({}, {}))
            total = FlushResult(
                total.readings + result.readings, total.inserted + result.inserted,
                total.conflicts + result.conflicts, total.dead_letters + result.dead_letters,
                staged=True,
            )  # fmt: skip
        return total, np.concatenate(stored) if stored else to_records([])

    def _flush(self, writers: list[BatchWriter], batch: list[_Item], stop: threading.Event) -> bool:
        """Store the batch, then acknowledge it; False if we stopped with it unstored."""
        delay = _RETRY_FIRST_S
        while True:
            waiting = self._undeferred(batch)
            if waiting:
                log.warning("registry unreachable; holding %d messages, retry in %.1fs",
                            waiting, delay)  # fmt: skip
            else:
                try:
                    started = time.perf_counter()
                    result, records = self._write(writers, batch)
                    committed = time.time()
                    self.stats.metrics.db_up.set(1)
                    break
                except _TRANSIENT as exc:
                    log.info("retrying a batch after %s", type(exc).__name__)
                    continue
                except psycopg.OperationalError as exc:
                    self.stats.metrics.db_up.set(0)
                    log.warning("database unavailable (%s); keeping %d messages, retry in %.1fs",
                                exc, len(batch), delay)  # fmt: skip
                    if writers:
                        writers.pop().conn.close()
            if stop.wait(delay):
                # Stopping with the batch unstored: leave it unacknowledged; the broker
                # redelivers it to our persistent session next time.
                log.warning("stopping; %d unstored messages left to redelivery", len(batch))
                return False
            delay = min(delay * 2, _RETRY_MAX_S)
        assert self._client is not None
        if self._stream is not None and self.readings_topic is not None:
            self._publish_readings(self._stream, self.readings_topic, records)
        ack_batch(self._client, [item.mid for item in batch if item.qos == 1])
        lags = [committed - i.decoded.rows[0][0].timestamp() for i in batch if i.decoded.rows]
        dead_reasons = [i.decoded.dead.reason for i in batch if i.decoded.dead is not None]
        self.stats.record(
            batch=len(batch), result=result, seconds=time.perf_counter() - started, lags=lags,
            dead_reasons=dead_reasons,
        )  # fmt: skip
        return True

    def _publish_readings(self, client: mqtt.Client, topic: str, records: np.ndarray) -> None:
        """The committed rows, for the alert engine (``devices.readings_stream``).

        Published before the source messages are acknowledged: a crash in between re-delivers
        them, so a consumer may see a reading twice but never misses one that was stored.
        """
        sent = [client.publish(topic, payload, qos=1) for payload in pack_records(records)]
        # The stream has its own connection (see run), so nothing orders its publishes before
        # the acknowledgements: wait for the broker to have them, within reason. Past the
        # limit the rows are stored all the same, and the engine is told by the gap in its
        # log rather than the devices' messages being held.
        deadline = time.monotonic() + _STREAM_WAIT_S
        for info in sent:
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError):
                # Not connected (the broker restarting, or the stream's connection still
                # opening): paho keeps the QoS 1 message and sends it once connected.
                break
        if not all(_taken(info) for info in sent):
            self.stats.metrics.stream_late.inc()
            log.warning("readings stream: the broker had not taken a batch after %.0f s",
                        _STREAM_WAIT_S)  # fmt: skip

    def _connect_stream(self) -> mqtt.Client:
        """The readings stream's own connection. On the devices' connection its publishes
        would wait behind ingest's backpressure, which stops that connection's network loop
        exactly when ingest falls behind: the engine would then be further behind than the
        database."""
        stream = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{self.client_id}-readings",
                             clean_session=True)  # fmt: skip
        if self.s.mqtt_username:
            stream.username_pw_set(self.s.mqtt_username, self.s.mqtt_password)
        stream.max_inflight_messages_set(1_000)
        stream.reconnect_delay_set(min_delay=1, max_delay=30)
        stream.connect_async(self.s.mqtt_host, self.s.mqtt_port, keepalive=30)
        stream.loop_start()
        return stream

    def run(self, stop: threading.Event) -> None:
        metrics_server = None
        if self.s.ingest_metrics_port:
            try:
                metrics_server, _ = start_http_server(
                    self.s.ingest_metrics_port,
                    addr=self.s.ingest_metrics_host,
                    registry=self.stats.metrics.registry,
                )
            except OSError as exc:
                raise PortInUseError(
                    port=self.s.ingest_metrics_port, setting="IOC_INGEST_METRICS_PORT",
                    service="the ingest metrics endpoint",
                ) from exc  # fmt: skip
        lookup_conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        self._cache = RegistryCache(
            lookup_conn,
            reconnect=lambda: psycopg.connect(self.dsn, autocommit=True, connect_timeout=10),
        )
        writers: list[BatchWriter] = []
        client = IngestClient(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,  # persistent session: the broker queues while we are away
            manual_ack=True,
        )
        if self.s.mqtt_username:
            client.username_pw_set(self.s.mqtt_username, self.s.mqtt_password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client = client
        if self.readings_topic is not None:
            self._stream = self._connect_stream()
        client.connect_async(self.s.mqtt_host, self.s.mqtt_port, keepalive=30)
        client.loop_start()
        try:
            while not stop.is_set():
                batch = self._take_batch(stop)
                if batch:
                    self._flush(writers, batch, stop)
                elif self._unseen and self._last_seen_due():
                    self._write_last_seen(writers)
                self._cache.maybe_refresh()
                self.stats.maybe_log()
            # What already arrived is written and acknowledged rather than left to
            # redelivery (which would also be harmless: storage is idempotent).
            batch = [self._pending.popleft() for _ in range(len(self._pending))]
            if batch:
                self._flush(writers, batch, stop)
            if self._unseen:
                self._write_last_seen(writers)
            self._room.set()
        finally:
            client.disconnect()
            client.loop_stop()
            if self._stream is not None:
                self._stream.disconnect()
                self._stream.loop_stop()
            for writer in writers:
                writer.conn.close()
            lookup_conn.close()
            if metrics_server is not None:
                metrics_server.shutdown()
            self.stats.log()
