"""The ingest client's bulk reads against the real broker: every packet of a burst handled once
and in order, a lone message after a burst not left waiting in the client's buffer, and a
reconnect reading the new connection from its first byte."""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingest.bench.wire import Connection, publish_qos1, topic_field
from ingest.paho_tuning import _READ_BURST, IngestClient

pytestmark = pytest.mark.broker

BURST = 20 * _READ_BURST  # several bursts' worth, and many 64 KiB reads


class _Received:
    def __init__(self) -> None:
        self.payloads: list[bytes] = []
        self.at: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.payloads.append(bytes(msg.payload))
            self.at.append(time.monotonic())
        _c.ack(msg.mid, msg.qos)  # type: ignore[attr-defined]

    def wait_for(self, n: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.payloads) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.payloads) == n, f"received {len(self.payloads)} of {n}"


def _client(stack, topic: str, received: _Received) -> IngestClient:
    client = IngestClient(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}",
                          manual_ack=True)  # fmt: skip
    client.on_message = received
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
    client.reconnect_delay_set(min_delay=1, max_delay=1)
    client.connect(stack.mqtt_host, stack.mqtt_port)
    client.loop_start()
    assert subscribed.wait(10)
    return client


def _publish(stack, topic: str, payloads: list[bytes]) -> None:
    """All in one write, so the client finds many packets per read."""
    conn = Connection(stack.mqtt_host, stack.mqtt_port, f"p-{uuid.uuid4().hex[:8]}")
    field = topic_field(topic)
    conn.send(b"".join(publish_qos1(field, i % 65535 + 1, p) for i, p in enumerate(payloads)))
    acked, deadline = 0, time.monotonic() + 20
    while acked < len(payloads) and time.monotonic() < deadline:
        acked += len(conn.read_pubacks())
        time.sleep(0.005)
    conn.close()
    assert acked == len(payloads)


def test_a_burst_arrives_whole_and_in_order_and_a_lone_message_after_it_at_once(stack):
    topic = f"t/{uuid.uuid4().hex}"
    received = _Received()
    client = _client(stack, topic, received)
    try:
        # Sizes that straddle read boundaries: packets split across 64 KiB reads.
        payloads = [(b"%06d:" % i) + b"x" * (i % 977) for i in range(BURST)]
        _publish(stack, topic, payloads)
        received.wait_for(BURST)
        assert received.payloads == payloads
        # Tiny packets, many to a read: the client's burst limit falls with some still in
        # its buffer, where select() cannot see them; nothing else arrives to wake it.
        tiny = [b"%d" % i for i in range(8 * _READ_BURST)]
        _publish(stack, topic, tiny)
        received.wait_for(BURST + len(tiny), timeout=5)
        sent = time.monotonic()
        _publish(stack, topic, [b"lone"])
        received.wait_for(BURST + len(tiny) + 1, timeout=5)
        # paho's loop sleeps up to 1 s in select(): a packet left in our buffer would wait.
        assert received.at[-1] - sent < 0.5
    finally:
        client.disconnect()
        client.loop_stop()


def test_after_a_dropped_connection_reading_starts_afresh(stack):
    topic = f"t/{uuid.uuid4().hex}"
    received = _Received()
    client = _client(stack, topic, received)
    try:
        _publish(stack, topic, [b"before"] * 50)
        received.wait_for(50)
        sock = client.socket()
        assert sock is not None
        sock.shutdown(2)  # the client sees the connection lost and reconnects
        deadline = time.monotonic() + 15
        while (client.socket() is sock or not client.is_connected()) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)
        time.sleep(0.5)  # resubscribed in on_connect
        _publish(stack, topic, [b"after-%d" % i for i in range(50)])
        received.wait_for(100)
        assert received.payloads[50:] == [b"after-%d" % i for i in range(50)]
    finally:
        client.disconnect()
        client.loop_stop()
