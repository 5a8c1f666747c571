"""The ingest loop: paho-mqtt in, batches out, acknowledgements only after the commit.

Two threads. paho's network thread decodes each message (pure CPU, never raises) and appends
it to a pending list; when ``ingest_max_pending`` messages wait it blocks, the broker's
in-flight window fills and the broker stops sending: that is the backpressure. The writer
thread (the caller of ``run``) takes what is pending once ``ingest_batch_size`` messages wait or
the oldest has waited ``ingest_flush_interval_s``, commits it in one transaction, then
acknowledges every message of the batch. A database outage keeps the batch and retries it:
nothing is acknowledged that is not stored, so nothing is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from devices.topics import Channel, subscription
from ingest.decode import decode
from ingest.readings import DeadLetter, Decoded, Limits
from ingest.registry_cache import RegistryCache
from ingest.stats import IngestStats
from ingest.writer import BatchMeta, BatchWriter
from ioc_core.settings import Settings

log = logging.getLogger(__name__)

# Retry pacing when the database is down; the batch waits in memory, unacknowledged.
_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 10.0
# Worth retrying at once: the database is fine, two workers just collided.
_TRANSIENT = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


def topic_filters(settings: Settings) -> list[str]:
    """Everything ingest reads; behind a shared group when several workers split the load."""
    filters = [subscription(Channel.TELEMETRY)]
    if settings.ingest_shared_group:
        return [f"$share/{settings.ingest_shared_group}/{f}" for f in filters]
    return filters


@dataclass(slots=True)
class _Item:
    decoded: Decoded
    mid: int
    qos: int


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
        self._pending: list[_Item] = []
        self._first_at = 0.0  # monotonic time the oldest pending item arrived
        self._cond = threading.Condition()
        self._cache: RegistryCache | None = None
        self._client: mqtt.Client | None = None

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

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        assert self._cache is not None
        received = datetime.now(UTC)
        payload = bytes(msg.payload)
        try:
            decoded = decode(
                msg.topic, payload, received_at=received, cache=self._cache, limits=self.limits
            )
        except Exception as exc:  # a bug must park the message, not kill the loop
            log.exception("decode failed for topic %s", msg.topic)
            decoded = Decoded(
                dead=DeadLetter(msg.topic, "internal_error", repr(exc), payload, received)
            )
        with self._cond:
            while len(self._pending) >= self.s.ingest_max_pending:
                self._cond.wait()  # backpressure: stop reading until the writer catches up
            if not self._pending:
                self._first_at = time.monotonic()
                self._cond.notify()
            self._pending.append(_Item(decoded, msg.mid, msg.qos))
            if len(self._pending) >= self.s.ingest_batch_size:
                self._cond.notify()

    # --- writer thread --------------------------------------------------------------------
    def _take_batch(self, stop: threading.Event) -> list[_Item]:
        with self._cond:
            while not stop.is_set():
                if len(self._pending) >= self.s.ingest_batch_size:
                    break
                if self._pending:
                    wait = self._first_at + self.s.ingest_flush_interval_s - time.monotonic()
                    if wait <= 0:
                        break
                else:
                    wait = 0.2
                self._cond.wait(wait)
            batch, self._pending = self._pending, []
            self.stats.metrics.pending.set(0)
            self._cond.notify_all()
            return batch

    def _flush(self, writers: list[BatchWriter], batch: list[_Item], stop: threading.Event) -> bool:
        """Store the batch, then acknowledge it; False if we stopped with it unstored."""
        rows = []
        dead = []
        lags = []
        newest: dict[int, datetime] = {}
        hours: dict[datetime, int] = {}
        for item in batch:
            d = item.decoded
            if d.dead is not None:
                dead.append(d.dead)
            if d.rows:
                rows.extend(d.rows)
                ts, key = d.rows[0][0], d.rows[0][1]
                if key not in newest or newest[key] < ts:
                    newest[key] = ts
                hour = ts.replace(minute=0, second=0, microsecond=0)
                hours[hour] = hours.get(hour, 0) + len(d.rows)
        meta = BatchMeta(newest=dict(sorted(newest.items())), hours=dict(sorted(hours.items())))
        delay = _RETRY_FIRST_S
        while True:
            try:
                if not writers:
                    writers.append(BatchWriter(psycopg.connect(self.dsn, connect_timeout=10)))
                started = time.perf_counter()
                result = writers[0].write(rows, dead, meta)
                committed = time.time()
                self.stats.metrics.db_up.set(1)
                break
            except _TRANSIENT as exc:
                log.info("retrying a batch after %s", type(exc).__name__)
            except psycopg.OperationalError as exc:
                self.stats.metrics.db_up.set(0)
                log.warning("database unavailable (%s); keeping %d messages, retry in %.1fs",
                            exc, len(batch), delay)  # fmt: skip
                if writers:
                    writers.pop().conn.close()
                if stop.wait(delay):
                    # Stopping with the database down: leave the batch unacknowledged; the
                    # broker redelivers it to our persistent session next time.
                    log.warning("stopping; %d unstored messages left to redelivery", len(batch))
                    return False
                delay = min(delay * 2, _RETRY_MAX_S)
        assert self._client is not None
        for item in batch:
            if item.qos > 0:
                self._client.ack(item.mid, item.qos)
        for item in batch:
            if item.decoded.rows:
                lags.append(committed - item.decoded.rows[0][0].timestamp())
        self.stats.record(
            batch=len(batch), result=result, seconds=time.perf_counter() - started, lags=lags,
            dead_reasons=[d.reason for d in dead],
        )  # fmt: skip
        return True

    def run(self, stop: threading.Event) -> None:
        lookup_conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        self._cache = RegistryCache(lookup_conn)
        writers: list[BatchWriter] = []
        client = mqtt.Client(
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
        client.connect_async(self.s.mqtt_host, self.s.mqtt_port, keepalive=30)
        client.loop_start()
        try:
            while not stop.is_set():
                batch = self._take_batch(stop)
                if batch:
                    self._flush(writers, batch, stop)
                self._cache.maybe_refresh()
                self.stats.maybe_log()
            # What already arrived is written and acknowledged rather than left to
            # redelivery (which would also be harmless: storage is idempotent).
            with self._cond:
                batch, self._pending = self._pending, []
                self._cond.notify_all()
            if batch:
                self._flush(writers, batch, stop)
        finally:
            client.disconnect()
            client.loop_stop()
            for writer in writers:
                writer.conn.close()
            lookup_conn.close()
            self.stats.log()
