"""Delivering alert notifications from the durable outbox: MQTT and signed webhooks.

``apply_findings`` writes an outbox row in the transaction of each change. The notifier fans
each row out into one delivery per target (the MQTT topic when enabled, each webhook URL of
the settings) and works through deliveries that are due: success marks them delivered, failure
schedules a retry ``retry_first_s * 2**attempts`` later (capped at ``retry_max_s``), and after
``max_attempts`` a delivery is marked failed and stays in the table for an operator to see.
Deliveries are claimed with a lease (``FOR UPDATE SKIP LOCKED``), so a second notifier never
sends the same one concurrently, and one that crashed mid-send is retried once the lease ends:
delivery is at least once, and ``X-IOC-Delivery`` lets a receiver drop a repeat.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from psycopg import Connection
from psycopg.rows import tuple_row

from analytics.alerts.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from ioc_core.settings import Settings

__all__ = ["MQTT_TARGET", "Notifier", "alert_topic"]

log = logging.getLogger(__name__)

MQTT_TARGET = "mqtt"
_BATCH = 200
_MQTT_ACK_TIMEOUT_S = 5.0

_FAN_OUT = """
WITH claimed AS (
    SELECT id FROM alert_outbox WHERE fanned_out_at IS NULL
    ORDER BY id LIMIT %(n)s FOR UPDATE SKIP LOCKED
), ins AS (
    INSERT INTO alert_deliveries (outbox_id, target)
    SELECT c.id, t FROM claimed c CROSS JOIN unnest(%(targets)s::text[]) t
    ON CONFLICT DO NOTHING
)
UPDATE alert_outbox SET fanned_out_at = now() WHERE id IN (SELECT id FROM claimed)"""

# Claim due deliveries by pushing their next attempt past the lease: a notifier that dies
# mid-send leaves them to be retried when the lease ends.
_CLAIM = """
UPDATE alert_deliveries d SET next_attempt_at = now() + %(lease)s
FROM alert_outbox o
WHERE o.id = d.outbox_id AND d.id IN (
    SELECT id FROM alert_deliveries
    WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
    ORDER BY next_attempt_at LIMIT %(n)s FOR UPDATE SKIP LOCKED)
RETURNING d.id, d.target, d.attempts, o.payload"""


# Finished notifications: every delivery delivered or given up, older than the keep period.
_PURGE = """
DELETE FROM alert_outbox o WHERE o.created_at < now() - make_interval(days => %(days)s)
  AND o.fanned_out_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.outbox_id = o.id
                  AND d.delivered_at IS NULL AND d.failed_at IS NULL)"""
_PURGE_EVERY_S = 3600.0


def alert_topic(payload: dict[str, Any]) -> str:
    tenant = payload.get("tenant_id") or "_none"
    return f"ioc/v1/_alerts/{tenant}/{payload['severity']}/{payload['kind']}"


@dataclass(slots=True)
class NotifyStats:
    delivered: int = 0
    retried: int = 0
    failed: int = 0


class Notifier:
    """Runs in its own thread (``run``) with its own connection and MQTT client; the engine
    calls ``kick`` after a commit so a new alert goes out at once rather than at the next
    poll."""

    def __init__(self, settings: Settings, *, client_id: str | None = None) -> None:
        self.s = settings
        self.stats = NotifyStats()
        self._kick = threading.Event()
        self.targets = ([MQTT_TARGET] if settings.alerts_notify_mqtt else []) + list(
            settings.alerts_webhook_urls
        )
        if settings.alerts_webhook_urls and settings.alerts_webhook_secret is None:
            raise ValueError("IOC_ALERTS_WEBHOOK_SECRET must be set when webhook URLs are")
        self._secret = (
            settings.alerts_webhook_secret.get_secret_value()
            if settings.alerts_webhook_secret
            else ""
        )
        self._http = httpx.Client(timeout=settings.alerts_webhook_timeout_s)
        self._lease = timedelta(seconds=settings.alerts_webhook_timeout_s + 30)
        self._client: mqtt.Client | None = None
        self._client_id = client_id or f"{settings.alerts_client_id}-notify"

    def kick(self) -> None:
        self._kick.set()

    # --- MQTT ---------------------------------------------------------------------------
    def _mqtt(self) -> mqtt.Client:
        if self._client is None:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self._client_id,
                                 clean_session=True)  # fmt: skip
            if self.s.mqtt_username:
                client.username_pw_set(self.s.mqtt_username, self.s.mqtt_password)
            client.reconnect_delay_set(min_delay=1, max_delay=30)
            client.connect_async(self.s.mqtt_host, self.s.mqtt_port, keepalive=30)
            connected = threading.Event()
            client.on_connect = lambda *_: connected.set()
            client.loop_start()
            connected.wait(_MQTT_ACK_TIMEOUT_S)
            self._client = client
        return self._client

    def _publish(self, payload: dict[str, Any], body: bytes) -> None:
        client = self._mqtt()
        if not client.is_connected():
            # paho would queue it and send it on reconnect, and the retry would send it again.
            raise RuntimeError("not connected to the broker")
        info = client.publish(alert_topic(payload), body, qos=1, retain=False)
        info.wait_for_publish(_MQTT_ACK_TIMEOUT_S)
        if not info.is_published():
            raise RuntimeError("broker did not acknowledge within 5 s")

    def _post(self, url: str, delivery_id: int, body: bytes) -> None:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, body),
            TIMESTAMP_HEADER: str(int(time.time())),
            "X-IOC-Delivery": str(delivery_id),
        }
        response = self._http.post(url, content=body, headers=headers)
        if response.status_code >= 300:
            raise RuntimeError(f"HTTP {response.status_code}")

    # --- the outbox ---------------------------------------------------------------------
    def step(self, conn: Connection) -> int:
        """Fan out new rows and send what is due; returns deliveries attempted."""
        with conn.transaction():
            conn.execute(_FAN_OUT, {"n": _BATCH, "targets": self.targets})
        with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
            due = cur.execute(_CLAIM, {"n": _BATCH, "lease": self._lease}).fetchall()
        for delivery_id, target, attempts, payload in due:
            body = orjson.dumps({**payload, "delivery_id": delivery_id})
            try:
                if target == MQTT_TARGET:
                    self._publish(payload, body)
                else:
                    self._post(target, delivery_id, body)
            except Exception as exc:
                self._failed(conn, delivery_id, target, attempts + 1, exc)
                continue
            conn.execute(
                "UPDATE alert_deliveries SET delivered_at = now(), attempts = attempts + 1,"
                " last_error = NULL WHERE id = %s",
                (delivery_id,),
            )
            self.stats.delivered += 1
        return len(due)

    def _failed(
        self, conn: Connection, delivery_id: int, target: str, attempts: int, exc: Exception
    ) -> None:
        give_up = attempts >= self.s.alerts_max_attempts
        delay = min(self.s.alerts_retry_first_s * 2 ** (attempts - 1), self.s.alerts_retry_max_s)
        conn.execute(
            """UPDATE alert_deliveries SET attempts = %(a)s, last_error = %(e)s,
                   next_attempt_at = now() + make_interval(secs => %(d)s),
                   failed_at = CASE WHEN %(give_up)s THEN now() END
               WHERE id = %(id)s""",
            {"a": attempts, "e": str(exc)[:500], "d": delay, "give_up": give_up,
             "id": delivery_id},
        )  # fmt: skip
        if give_up:
            self.stats.failed += 1
            log.error("delivery %s to %s failed for good after %d attempts: %s",
                      delivery_id, target, attempts, exc)  # fmt: skip
        else:
            self.stats.retried += 1
            log.warning("delivery %s to %s failed (%s); retry %d in %.1fs",
                        delivery_id, target, exc, attempts, delay)  # fmt: skip

    def purge(self, conn: Connection) -> int:
        return conn.execute(_PURGE, {"days": self.s.alerts_outbox_keep_days}).rowcount

    def run(self, stop: threading.Event) -> None:
        conn: Connection | None = None
        next_purge = time.monotonic()
        while not stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.s.postgres_dsn, autocommit=True,
                                           connect_timeout=10)  # fmt: skip
                if time.monotonic() >= next_purge:
                    self.purge(conn)
                    next_purge = time.monotonic() + _PURGE_EVERY_S
                if self.step(conn):
                    continue  # more may be waiting
            except psycopg.Error:
                log.exception("notifier: database step failed; retrying")
                if conn is not None:
                    conn.close()
                conn = None
            self._kick.wait(self.s.alerts_outbox_poll_s)
            self._kick.clear()
        self.close()
        if conn is not None:
            conn.close()

    def close(self) -> None:
        self._http.close()
        if self._client is not None:
            self._client.loop_stop()
            self._client.disconnect()
            self._client = None
