"""The ingest loop: paho-mqtt in, batches out, acknowledgements only after the commit.

Two threads. paho's network thread decodes each message (pure CPU, never raises) and puts it on
a bounded queue; when the queue is full it blocks, the broker's in-flight window fills, and the
broker stops sending: that is the backpressure. The writer thread (the caller of ``run``) takes
up to ``batch_size`` items or whatever arrived within ``flush_interval``, commits them in one
transaction, then acknowledges every message of the batch. A database outage keeps the batch
and retries it: nothing is acknowledged that is not stored, so nothing is lost.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from devices.topics import Channel, subscription
from ingest.decode import DeadLetter, Decoded, Limits, decode
from ingest.registry_cache import RegistryCache
from ingest.stats import IngestStats
from ingest.writer import BatchWriter
from ioc_core.settings import Settings

log = logging.getLogger(__name__)

# Retry pacing when the database is down; the batch waits in memory, unacknowledged.
_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 10.0


@dataclass(frozen=True, slots=True)
class _Item:
    decoded: Decoded
    mid: int
    qos: int


class IngestWorker:
    def __init__(
        self,
        settings: Settings,
        *,
        topic_filter: str | None = None,
        client_id: str | None = None,
        dsn: str | None = None,
    ) -> None:
        self.s = settings
        self.topic_filter = topic_filter or subscription(Channel.TELEMETRY)
        self.client_id = client_id or settings.ingest_client_id
        self.dsn = dsn or settings.postgres_dsn
        self.limits = Limits(
            max_payload_bytes=settings.ingest_max_payload_bytes,
            max_future=timedelta(seconds=settings.ingest_max_future_s),
            max_past=timedelta(seconds=settings.ingest_max_past_s),
        )
        self.stats = IngestStats()
        self.subscribed = threading.Event()
        # Bounded: a few batches' worth. A full queue blocks paho's thread -> backpressure.
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=4 * settings.ingest_batch_size)
        self._cache: RegistryCache | None = None
        self._client: mqtt.Client | None = None

    # --- network thread -------------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, rc: object,
                    props: object = None) -> None:  # fmt: skip
        if getattr(rc, "is_failure", False):
            log.error("broker refused the connection: %s", rc)
            return
        client.subscribe(self.topic_filter, qos=1)
        log.info("connected to %s, subscribed to %s", self.s.mqtt_url, self.topic_filter)

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
        self._queue.put(_Item(decoded, msg.mid, msg.qos))

    # --- writer thread --------------------------------------------------------------------
    def _take_batch(self, stop: threading.Event) -> list[_Item]:
        batch: list[_Item] = []
        try:
            batch.append(self._queue.get(timeout=0.2))
        except queue.Empty:
            return batch
        deadline = time.monotonic() + self.s.ingest_flush_interval_s
        while len(batch) < self.s.ingest_batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _flush(
        self, writer_box: list[BatchWriter], batch: list[_Item], stop: threading.Event
    ) -> None:
        rows = [row for item in batch for row in item.decoded.rows]
        dead = [item.decoded.dead for item in batch if item.decoded.dead is not None]
        delay = _RETRY_FIRST_S
        while True:
            try:
                if not writer_box:
                    writer_box.append(BatchWriter(psycopg.connect(self.dsn, connect_timeout=10)))
                started = time.perf_counter()
                result = writer_box[0].write(rows, dead)
                self.stats.record(
                    batch=len(batch), result=result, seconds=time.perf_counter() - started
                )
                break
            except psycopg.OperationalError as exc:
                log.warning("database unavailable (%s); keeping %d messages, retry in %.1fs",
                            exc, len(batch), delay)  # fmt: skip
                if writer_box:
                    writer_box.pop().conn.close()
                if stop.wait(delay):
                    # Stopping with the database down: leave the batch unacknowledged; the
                    # broker redelivers it to our persistent session next time.
                    log.warning("stopping; %d unstored messages left to redelivery", len(batch))
                    return
                delay = min(delay * 2, _RETRY_MAX_S)
        assert self._client is not None
        for item in batch:
            if item.qos > 0:
                self._client.ack(item.mid, item.qos)

    def run(self, stop: threading.Event) -> None:
        lookup_conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        self._cache = RegistryCache(lookup_conn)
        writer_box: list[BatchWriter] = []
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,  # persistent session: the broker queues while we are away
            manual_ack=True,
        )
        if self.s.mqtt_username:
            client.username_pw_set(self.s.mqtt_username, self.s.mqtt_password)
        client.on_connect = self._on_connect
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
                    self._flush(writer_box, batch, stop)
                self._cache.maybe_refresh()
                self.stats.maybe_log()
            # Drain what already arrived so a clean stop acknowledges it rather than leaving
            # it for redelivery (which would also be harmless: storage is idempotent).
            # Only what is queued now: the network thread may still be adding.
            for _ in range(self._queue.qsize() // self.s.ingest_batch_size + 1):
                if batch := self._take_batch(stop):
                    self._flush(writer_box, batch, stop)
        finally:
            client.disconnect()
            client.loop_stop()
            for writer in writer_box:
                writer.conn.close()
            lookup_conn.close()
            self.stats.log()
