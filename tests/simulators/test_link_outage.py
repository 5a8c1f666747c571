"""A simulator link losing its broker mid-run: ``publish`` must not stall the engine.

A Mosquitto of this test's own (free port, own folder) is stopped and started again, so the
outage disturbs nobody else. While the link is down, paho keeps up to ``window`` messages to
resend on reconnect (a device's bounded buffer); beyond that ``publish`` returns False at once
and counts the message as dropped, instead of waiting 30 s for acks that cannot come.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ioc_core.settings import Settings
from ioc_core.stack.mosquitto import MosquittoService
from ioc_core.stack.temporary import temporary_settings, temporary_var_dir
from simulators.links import Link, wait_connected

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

WINDOW = 20
OVER = 10  # publishes past a full window while the broker is away


@pytest.fixture
def private_broker() -> Iterator[tuple[Settings, MosquittoService]]:
    var_dir = temporary_var_dir()
    settings = temporary_settings(var_dir)
    broker = MosquittoService(settings)
    broker.start()
    try:
        yield settings, broker
    finally:
        broker.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_publish_drops_at_once_while_the_broker_is_away_and_resumes_after(
    private_broker: tuple[Settings, MosquittoService], tenant: str
) -> None:
    settings, broker = private_broker
    link = Link(
        settings, client_id=f"sim-{tenant}", tenant=tenant, device_id="aq-001", login=None,
        on_command=None, window=WINDOW, will_ts=datetime.now(UTC),
    )  # fmt: skip
    topic = f"ioc/v1/{tenant}/aq-001/telemetry"
    link.start()
    try:
        assert wait_connected(settings, [link], 10, threading.Event())
        for _ in range(5):
            assert link.publish(topic, b'{"v":1}')
        assert link.flush(10) and link.acked == 5

        assert broker.stop()
        assert _wait(lambda: not link.connected.is_set(), 10), "the link never saw the loss"
        sent = []
        for _ in range(WINDOW + OVER):
            t = time.monotonic()
            sent.append(link.publish(topic, b'{"v":1}'))  # default timeout: 30 s
            took = time.monotonic() - t
            assert took < 1.0, f"publish blocked {took:.1f} s on a lost broker"
        assert sent == [True] * WINDOW + [False] * OVER  # the window buffers, the rest drops
        assert link.dropped == OVER and link.errors == 0

        broker.start()
        assert link.connected.wait(30), "the link did not reconnect"
        assert link.flush(10), "the buffered messages were not resent"
        assert link.acked == 5 + WINDOW
        assert link.publish(topic, b'{"v":1}') and link.flush(10)
        assert link.acked == 5 + WINDOW + 1 and link.dropped == OVER
    finally:
        link.close(datetime.now(UTC), say_goodbye=False)
