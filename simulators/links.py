"""MQTT connections of simulated devices: one per device, or one per gateway for big fleets.

A real city does not open 100,000 TCP connections to its broker: street lights talk LoRaWAN or
NB-IoT to a network server, and a lighting cabinet's controller speaks for its circuit. A
gateway link is that: one MQTT session publishing on the topics of many devices, with its own
last will on its gateway device's status topic (a lost gateway is one ``offline``, as a lost
LoRaWAN network server would be). Per-device links are used for small fleets, so each device
has its own last will and an ``offline`` incident is a real unclean disconnect.

Backpressure: QoS 1 with paho's in-flight window; ``publish`` blocks while this link has more
than ``window`` messages not yet acknowledged by the broker, so a slow broker slows the
simulator down instead of growing paho's queue without bound.

A lost broker is not a slow one. While a link is down, paho keeps what it is given and resends
it on reconnect, so up to ``window`` messages wait there (a device's bounded buffer); past that
``publish`` returns False at once and counts the message in ``dropped``, as a device with a
full buffer loses readings. Waiting for acks that cannot come stalled the engine's one thread
30 s per message, for every device. The link reconnects on its own (backoff 1 s doubling to
30 s, as the edge node's uplink) and publishing resumes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from devices.payloads import StatusV1
from devices.topics import Channel, Topic
from ioc_core.errors import IocError
from ioc_core.settings import Settings

log = logging.getLogger(__name__)

CommandHandler = Callable[[str, str, bytes], None]  # (tenant, device id, payload)


class BrokerUnreachableError(IocError):
    """Links still not connected when the connect wait ran out.

    An ``IocError``, so ``ioc simulate`` prints it as one line and exits 1: the operator needs
    the broker's address and how long we tried, not paho's retry loop in a traceback.
    """

    def __init__(self, settings: Settings, links: Sequence[Link], waited_s: float) -> None:
        down = [link for link in links if not link.connected.is_set()]
        refused = next((link for link in down if link.refused), None)
        why = (
            f"the broker refused link {refused.device_id}: {refused.refused}"
            if refused is not None
            else "is it running? `ioc stack status` shows the private one;"
            " IOC_MQTT_HOST / IOC_MQTT_PORT choose another"
        )
        super().__init__(
            f"could not connect to the MQTT broker at {settings.mqtt_host}:{settings.mqtt_port}:"
            f" {len(down)} of {len(links)} simulator links not connected after {waited_s:g} s"
            f" ({why})"
        )
        self.waited_s = waited_s


class Link:
    def __init__(
        self,
        settings: Settings,
        *,
        client_id: str,
        tenant: str,
        device_id: str,
        login: tuple[str, str] | None,
        on_command: CommandHandler | None,
        command_filter: str | None = None,
        window: int = 1000,
        will_ts: datetime,
    ) -> None:
        self.s = settings
        self.tenant = tenant
        self.device_id = device_id
        self.window = window
        self.pending = 0
        self.acked = 0
        self.errors = 0
        self.dropped = 0  # not sent: the link was down and its window full
        self._closing = False
        self._down_since: float | None = None
        self._dropped_before = 0
        self.connected = threading.Event()
        self.refused: str | None = None  # the broker's last CONNACK refusal, for the error
        self._cond = threading.Condition()
        self._on_command = on_command
        self.status_topic = str(Topic(tenant, device_id, Channel.STATUS))
        self.command_filter = command_filter or str(Topic(tenant, device_id, Channel.COMMAND))
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        c.max_inflight_messages_set(min(window, 65_535))
        c.reconnect_delay_set(min_delay=1, max_delay=30)  # paho's default max is 120 s
        if login is not None:
            c.username_pw_set(*login)
        elif settings.mqtt_username:
            c.username_pw_set(settings.mqtt_username, settings.mqtt_password)
        will = StatusV1(v=1, ts=will_ts, state="offline", reason="connection lost")
        c.will_set(self.status_topic, will.to_json(), qos=1, retain=True)
        c.on_connect = self._connected
        c.on_disconnect = self._disconnected
        c.on_publish = self._published
        c.on_message = self._message
        self.client = c

    def start(self) -> None:
        """Connect in the background (``connected`` is set once the broker accepts); a link
        hung up before it was started stays down."""
        if self._closing:
            return
        self.client.connect_async(self.s.mqtt_host, self.s.mqtt_port, keepalive=60)
        self.client.loop_start()

    def _connected(
        self, c: mqtt.Client, _u: object, _f: object, reason: object, _p: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("link %s refused: %s", self.device_id, reason)
            self.refused = str(reason)
            return
        self.refused = None
        if self._on_command is not None:
            c.subscribe(self.command_filter, qos=1)
        self.connected.set()
        if self._down_since is not None:
            log.warning(
                "link %s reconnected after %.1f s; %d messages dropped meanwhile",
                self.device_id, time.monotonic() - self._down_since,
                self.dropped - self._dropped_before,
            )  # fmt: skip
            self._down_since = None

    def _disconnected(
        self, _c: mqtt.Client, _u: object, _f: object, reason: object, _p: object
    ) -> None:
        was_up = self.connected.is_set()
        self.connected.clear()
        with self._cond:  # a publish or flush waiting for acks that cannot come gives up now
            self._cond.notify_all()
        if was_up and not self._closing:
            self._down_since = time.monotonic()
            self._dropped_before = self.dropped
            log.warning(
                "link %s lost the broker (%s); it keeps up to %d messages to resend (%d now)"
                " and drops the rest until it reconnects",
                self.device_id, reason, self.window, self.pending,
            )  # fmt: skip

    def _published(self, *_: object) -> None:
        with self._cond:
            self.pending -= 1
            self.acked += 1
            self._cond.notify_all()

    def _message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        if self._on_command is not None and len(parts) == 5:
            self._on_command(parts[2], parts[3], bytes(msg.payload))

    def publish(
        self, topic: str, payload: bytes, *, retain: bool = False, timeout: float = 30.0
    ) -> bool:
        """Queue one QoS 1 message; False if it was not handed to paho.

        Waits up to ``timeout`` while the window is full and the broker is there (it is slow:
        an ``error`` if it stays full); does not wait, or stops waiting, once the link is down
        (the message is ``dropped``).
        """
        with self._cond:
            if self.pending >= self.window:
                self._cond.wait_for(
                    lambda: self.pending < self.window or not self.connected.is_set(), timeout
                )
                if self.pending >= self.window:
                    if self.connected.is_set():
                        self.errors += 1
                    else:
                        self.dropped += 1
                    return False
            self.pending += 1
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            with self._cond:
                self.pending -= 1
                self.errors += 1
            return False
        return True

    def status(self, state: str, ts: datetime, reason: str | None = None) -> None:
        msg = StatusV1(v=1, ts=ts, state=state, reason=reason)
        self.publish(self.status_topic, msg.to_json(), retain=True)

    def flush(self, timeout: float) -> bool:
        """Wait for the broker's acks; True when none is outstanding.

        Returns early (False) once the link is down: unacknowledged messages of a lost
        connection are not acked before a reconnect, so waiting out ``timeout`` (per link, 30 s
        at the engine's close) only kept a stopping simulator alive for minutes.
        """
        with self._cond:
            self._cond.wait_for(lambda: self.pending <= 0 or not self.connected.is_set(), timeout)
            return self.pending <= 0

    def close(self, ts: datetime, *, say_goodbye: bool = True) -> None:
        self.hang_up(ts, say_goodbye=say_goodbye)
        self.join()

    def hang_up(self, ts: datetime, *, say_goodbye: bool = True) -> None:
        """First half of ``close``: goodbye and DISCONNECT, and paho's thread told to end.

        Separate from ``join`` because paho's thread, while it retries an unreachable broker,
        notices the end only at its next 1 s tick: hanging up every link before joining any
        makes a fleet's close take one tick, not one per link.
        """
        self._closing = True
        if say_goodbye and self.connected.is_set():
            self.status("offline", ts, "simulator stopped")
            self.flush(5)
        self.client.disconnect()

    def join(self) -> None:
        """Second half of ``close``: wait for paho's network thread to end."""
        self.client.loop_stop()

    def drop(self) -> None:
        """Lose the connection without DISCONNECT, as a device losing power does: the broker
        publishes this link's last will."""
        self._closing = True
        self.flush(5)
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()
        self.connected.clear()  # paho's thread, stopped, will not call _disconnected


def default_connect_timeout(links: int) -> float:
    """60 s + 0.2 s per link: a big fleet's links connect one after another, and a broker
    being restarted (``ioc stack up``) needs some seconds before it listens."""
    return 60.0 + 0.2 * links


def wait_connected(
    settings: Settings, links: Sequence[Link], timeout: float, stop: threading.Event
) -> bool:
    """Wait until every link is connected; False if ``stop`` is set first.

    The wait is sliced and checks ``stop``: a signal handler only sets that event, and a plain
    ``connected.wait`` (paho retrying an unreachable broker meanwhile) would keep SIGTERM from
    stopping the simulator until the timeout. Past ``timeout`` it raises
    ``BrokerUnreachableError`` naming the broker and the wait.
    """
    deadline = time.monotonic() + timeout
    for link in links:
        while not link.connected.wait(0.1):
            if stop.is_set():
                return False
            if time.monotonic() >= deadline:
                raise BrokerUnreachableError(settings, links, timeout)
    return True
