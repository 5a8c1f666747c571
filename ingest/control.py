"""``ioc ingest control``: the MQTT side of liveness and commands.

One paho client with a persistent session reads every device's ``status`` and ``command_ack``
(QoS 1, acknowledged to the broker only once recorded, so a crash or a database outage loses
nothing). paho's thread only queues what arrives; the loop's own thread does all database work,
so one connection serves it and nothing needs a lock. About once a second the loop expires
commands past their TTL and publishes queued ones; every few seconds it marks silent devices
offline (and devices heard from again online).

Delivery to a device that is offline: a command waits in the database, not in the broker, until
the device's latest status event is ``online`` (its own ``online`` message, or telemetry after
an offline). Waiting here rather than in a broker session queue means the TTL is ours to
enforce and a device with a clean session still gets it. When a device announces ``online``,
its commands already sent but not acknowledged are published again (same id; a device ignores
an id it has seen), which covers a device that dropped off between our publish and its receipt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import paho.mqtt.client as mqtt
import psycopg
import typer
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from devices.commands import (
    CommandNotFoundError,
    apply_ack,
    command_message,
    due_for_dispatch,
    expire_due,
    mark_sent,
)
from devices.errors import TopicError
from devices.liveness import mark_silent_devices, record_status_message
from devices.payloads import CommandAckV1, StatusV1
from devices.topics import Channel, Topic, subscription
from ioc_core.cli.common import fail_cleanly, settings_from_env, stop_on_signals
from ioc_core.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_CLIENT_ID = "ioc-control"
# Commands wait at most this long for a tick; short enough to feel immediate to an operator.
_TICK_S = 1.0
# The silence sweep reads every device; thresholds are minutes, so every few seconds is plenty.
_SWEEP_S = 5.0
_POLL_S = 0.05
_RETRY_FIRST_S, _RETRY_MAX_S = 0.5, 10.0
_DEAD_PAYLOAD_MAX = 4096  # as ingest: enough to debug a firmware, bounded for the table
_SUMMARY_EVERY_S = 60.0


class _ParkedError(Exception):
    """A message that becomes a dead letter with this reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(slots=True)
class _Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int
    received: datetime


class ControlLoop:
    def __init__(
        self, settings: Settings, *, client_id: str = DEFAULT_CLIENT_ID, tenant: str = "+",
        dsn: str | None = None, tick_s: float = _TICK_S, sweep_s: float = _SWEEP_S,
    ) -> None:  # fmt: skip
        self.s = settings
        self.client_id = client_id
        self.dsn = dsn or settings.postgres_dsn
        self.tick_s, self.sweep_s = tick_s, sweep_s
        self._next_sweep = 0.0
        self.filters = [
            subscription(c, tenant=tenant) for c in (Channel.STATUS, Channel.COMMAND_ACK)
        ]
        self.subscribed = threading.Event()
        self.counts: Counter[str] = Counter()
        self._inbox: deque[_Inbound] = deque()
        self._resend: set[str] = set()

    # --- paho's thread: queue only --------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: object, flags: mqtt.ConnectFlags,
                    rc: object, props: object = None) -> None:  # fmt: skip
        if getattr(rc, "is_failure", False):
            log.error("broker refused the connection: %s", rc)
            return
        # A resumed session keeps its subscriptions; subscribing again would replay every
        # retained status (harmless, but a burst of re-sends on each reconnect).
        if flags.session_present:
            self.subscribed.set()
        else:
            client.subscribe([(f, 1) for f in self.filters])
        log.info("control connected to %s as %s", self.s.mqtt_url, self.client_id)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = repr(msg._topic)
        self._inbox.append(_Inbound(topic, bytes(msg.payload), msg.mid, msg.qos,
                                    datetime.now(UTC)))  # fmt: skip

    # --- the loop's thread ----------------------------------------------------------------
    def _handle(self, conn: psycopg.Connection, item: _Inbound) -> None:
        tenant = device = None
        try:
            topic = Topic.parse(item.topic)
            tenant, device = topic.tenant, topic.device_id
            if not item.payload and topic.channel is Channel.STATUS:
                return  # an empty retained message only clears the retained status
            if len(item.payload) > self.s.ingest_max_payload_bytes:
                raise _ParkedError("too_large", f"{len(item.payload)} bytes")
            owner = conn.execute("SELECT tenant_id FROM devices WHERE id = %s",
                                 (device,)).fetchone()  # fmt: skip
            if owner is None:
                raise _ParkedError("unknown_device", f"device {device!r} is not registered")
            if owner[0] != tenant:
                raise _ParkedError("tenant_mismatch", f"device {device!r} belongs to {owner[0]!r}")
            if topic.channel is Channel.STATUS:
                status = StatusV1.model_validate_json(item.payload)
                record_status_message(conn, device, status)
                if status.state == "online":
                    self._resend.add(device)
                else:
                    self._resend.discard(device)
                self.counts["status"] += 1
            else:
                apply_ack(conn, device, CommandAckV1.model_validate_json(item.payload))
                self.counts["acks"] += 1
        except TopicError as exc:
            self._park(conn, item, "bad_topic", str(exc), tenant, device)
        except ValidationError as exc:
            json_error = any(e["type"] == "json_invalid" for e in exc.errors())
            reason = "not_json" if json_error else "bad_schema"
            self._park(conn, item, reason, str(exc), tenant, device)
        except CommandNotFoundError as exc:
            self._park(conn, item, "unknown_command", str(exc), tenant, device)
        except _ParkedError as exc:
            self._park(conn, item, exc.reason, str(exc), tenant, device)
        except psycopg.OperationalError:
            raise  # the database is away: the caller keeps the message and retries
        except Exception as exc:  # a bug must park the message, not stop the loop
            log.exception("control failed on %s (device %s)", item.topic, device)
            self._park(conn, item, "internal_error", repr(exc), tenant, device)

    def _park(self, conn: psycopg.Connection, item: _Inbound, reason: str, detail: str,
              tenant: str | None, device: str | None) -> None:  # fmt: skip
        self.counts[f"dead_{reason}"] += 1
        log.warning("dead letter %s on %s (device %s)", reason, item.topic, device)

        def clean(text: str) -> str:
            return text.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\x00")

        conn.execute(
            """INSERT INTO dead_letters (received_at, topic, tenant_id, device_id, reason,
                                         detail, payload, payload_truncated)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            (item.received, clean(item.topic), tenant, device, reason, clean(detail)[:2000],
             item.payload[:_DEAD_PAYLOAD_MAX], len(item.payload) > _DEAD_PAYLOAD_MAX),
        )  # fmt: skip

    def _tick(self, conn: psycopg.Connection, client: mqtt.Client) -> None:
        self.counts["expired"] += len(expire_due(conn))
        if time.monotonic() >= self._next_sweep:
            sweep = mark_silent_devices(conn)
            self._next_sweep = time.monotonic() + self.sweep_s
            for device_id in sweep.went_offline:
                log.info("device %s went silent: offline, connectivity alert opened", device_id)
        if not client.is_connected():
            return  # queued commands wait; the re-send set is kept for the next tick
        resend, self._resend = self._resend, set()
        sent = []
        for command in due_for_dispatch(conn, resend_to=resend):
            topic = Topic(command.tenant_id, command.device_id, Channel.COMMAND)
            info = client.publish(str(topic), command_message(command), qos=1)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                sent.append(command.id)
        self.counts["sent"] += mark_sent(conn, sent)

    def _step(self, conn: psycopg.Connection, client: mqtt.Client, next_tick: float) -> float:
        while self._inbox:
            item = self._inbox[0]
            try:
                self._handle(conn, item)
            except psycopg.OperationalError:
                raise  # the message stays first in line for the retry
            except Exception:  # not even a dead letter would go in: drop it, keep going
                log.exception("could not record or park the message on %s", item.topic)
            self._inbox.popleft()
            if item.qos:
                client.ack(item.mid, item.qos)
        if time.monotonic() >= next_tick:
            self._tick(conn, client)
            next_tick = time.monotonic() + self.tick_s
        return next_tick

    def run(self, stop: threading.Event) -> None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             clean_session=False, manual_ack=True)  # fmt: skip
        if self.s.mqtt_username:
            client.username_pw_set(self.s.mqtt_username, self.s.mqtt_password)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_: self.subscribed.set()
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.connect_async(self.s.mqtt_host, self.s.mqtt_port, keepalive=30)
        client.loop_start()
        conn: psycopg.Connection | None = None
        delay, next_tick, next_summary = _RETRY_FIRST_S, 0.0, time.monotonic() + _SUMMARY_EVERY_S
        try:
            while not stop.is_set():
                try:
                    if conn is None or conn.closed:
                        conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
                    next_tick = self._step(conn, client, next_tick)
                    delay = _RETRY_FIRST_S
                except psycopg.OperationalError as exc:
                    log.warning("database unavailable (%s); retry in %.1fs", exc, delay)
                    if conn is not None:
                        conn.close()
                    stop.wait(delay)
                    delay = min(delay * 2, _RETRY_MAX_S)
                except Exception:  # a bug in a pass: log it, try again next tick
                    log.exception("control pass failed")
                    next_tick = time.monotonic() + self.tick_s
                if time.monotonic() >= next_summary:
                    log.info("control: %s", dict(self.counts))
                    next_summary = time.monotonic() + _SUMMARY_EVERY_S
                stop.wait(_POLL_S)
        finally:
            client.disconnect()
            client.loop_stop()
            if conn is not None:
                conn.close()


@fail_cleanly
def control_cmd(
    client_id: Annotated[
        str, typer.Option(envvar="IOC_CONTROL_CLIENT_ID", help="Stable MQTT client id (session).")
    ] = DEFAULT_CLIENT_ID,
) -> None:
    """Deliver commands, record device status and acks, mark silent devices offline."""
    ControlLoop(settings_from_env(), client_id=client_id).run(stop_on_signals())
