"""The publisher thread: drains the outbox to the broker in order, QoS 1, and only then deletes.

A message leaves the SQLite queue only after the broker's PUBACK, so a broker that disappears
mid-publish costs nothing; paho keeps the persistent session (``clean_session=False``) and
resends unacknowledged messages on reconnect, in order. The retained ``online`` status is sent on
every connect and the ``offline`` one is the last will, as for every device of the platform.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.payloads import StatusV1
from devices.topics import Channel, Topic
from edge.outbox import Outbox

log = logging.getLogger(__name__)

# Messages handed to paho before waiting for their PUBACKs: enough to replay an hour of
# intervals in a second on a LAN, small enough that a cut costs at most this many resends.
_WINDOW = 32


def _status(state: str, reason: str | None = None) -> bytes:
    return StatusV1(v=1, ts=datetime.now(UTC), state=state, reason=reason).to_json()


class Uplink:
    def __init__(
        self,
        outbox: Outbox,
        *,
        host: str,
        port: int,
        tenant: str,
        device_id: str,
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        self.outbox = outbox
        self.status_topic = str(Topic(tenant, device_id, Channel.STATUS))
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"edge-{tenant}-{device_id}",
            clean_session=False,
        )
        if username:
            self.client.username_pw_set(username, password)
        if ca_file:
            self.client.tls_set(ca_certs=ca_file)
        self.client.will_set(self.status_topic, _status("offline", "connection lost"), 1, True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.max_inflight_messages_set(_WINDOW)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.host, self.port = host, port
        self.connected = threading.Event()
        self.published = 0
        self.reconnects = 0
        # Monotonic times of failed connection attempts (the broker unreachable): their spacing
        # is the reconnect backoff (1, 2, 4 ... 30 s), which node health and a test can see.
        self.failed_attempts: deque[float] = deque(maxlen=256)
        self.failed_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-uplink", daemon=True)

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, rc: object, _p: object
    ) -> None:
        if getattr(rc, "is_failure", False):
            log.warning("broker refused the connection: %s", rc)
            return
        client.publish(self.status_topic, _status("online"), qos=1, retain=True)
        self.connected.set()
        log.info("connected to %s:%s", self.host, self.port)

    def _on_disconnect(self, *_args: object) -> None:
        if self.connected.is_set():
            self.reconnects += 1
            log.warning("broker connection lost; messages wait in the outbox")
        self.connected.clear()

    def _on_connect_fail(self, *_args: object) -> None:
        self.failed_attempts.append(time.monotonic())
        self.failed_total += 1

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=15)
        self.client.loop_start()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.connected.wait(0.5):
                continue
            batch = self.outbox.peek(_WINDOW)
            if not batch:
                self.outbox.wait(0.5)
                continue
            infos = [
                (item.id, self.client.publish(item.topic, item.payload, qos=1, retain=item.retain))
                for item in batch
            ]
            done: list[int] = []
            for row_id, info in infos:
                # paho resends an unacknowledged QoS 1 message after a reconnect by itself;
                # we only wait for it (and stop waiting when asked to stop).
                while not info.is_published() and not self._stop.is_set():
                    time.sleep(0.005 if self.connected.is_set() else 0.2)
                if not info.is_published():
                    break
                done.append(row_id)
            self.outbox.ack(done)
            self.published += len(done)

    def drain(self, timeout: float) -> bool:
        """Wait until the outbox is empty (used at the end of a file run)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox.depth() == 0:
                return True
            time.sleep(0.05)
        return self.outbox.depth() == 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self.connected.is_set():
            info = self.client.publish(self.status_topic, _status("offline", "stopped"), 1, True)
            info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()
