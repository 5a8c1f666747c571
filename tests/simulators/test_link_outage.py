"""A simulator link losing its broker mid-run: ``publish`` must not stall the engine.

A Mosquitto of this test's own (``private_broker``, conftest.py) is stopped and started again,
so the outage disturbs nobody else. While the link is down, paho keeps up to ``window`` messages to
resend on reconnect (a device's bounded buffer); beyond that ``publish`` returns False at once
and counts the message as dropped, instead of waiting 30 s for acks that cannot come.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from ioc_core.settings import Settings
from ioc_core.stack.mosquitto import MosquittoService
from simulators.city import build_fleet
from simulators.engine import Engine, RunStats
from simulators.links import Link, wait_connected
from simulators.weather import Weather
from simulators.world import AirOptions, World

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

WINDOW = 20
OVER = 10  # publishes past a full window while the broker is away


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


SPEED = 12_000.0  # two stations reporting every 60 s: 200 msg/s per link, 400 in all
RATE = 2 * SPEED / 60


def _engine(settings: Settings, wall_s: float) -> tuple[Engine, threading.Thread, list[RunStats]]:
    """Two stations at 12,000x: a per-device link's window (200) fills within a second of
    losing the broker. The engine runs on a thread of its own, as under ``ioc simulate``."""
    start = datetime.now(UTC).replace(microsecond=0)
    end = start + timedelta(seconds=SPEED * wall_s)
    world = World(seed=1, weather=Weather(seed=1, start=start, end=end), air=AirOptions())
    fleet = build_fleet({"air_quality_station": 2}, seed=1)
    engine = Engine(settings, fleet, world, sim_start=start, speed=SPEED, sim_end=end)
    result: list[RunStats] = []
    runner = threading.Thread(target=lambda: result.append(engine.run()), daemon=True)
    runner.start()
    assert _wait(lambda: engine.stats.published > 200, 10), "the engine did not start publishing"
    return engine, runner, result


def _attempts(engine: Engine) -> int:
    """Readings the engine has tried to send: published or dropped."""
    return engine.stats.published + sum(link.dropped for link in engine.links)


def test_an_engine_keeps_its_schedule_through_a_broker_restart_and_counts_the_drops(
    private_broker: tuple[Settings, MosquittoService],
) -> None:
    settings, broker = private_broker
    wall_s, outage_s = 10.0, 3.0
    engine, runner, result = _engine(settings, wall_s)
    assert broker.stop()
    assert _wait(lambda: not any(link.connected.is_set() for link in engine.links), 5)
    before, t = _attempts(engine), time.monotonic()
    time.sleep(outage_s)
    tried = _attempts(engine) - before
    rate = tried / (time.monotonic() - t)
    broker.start()
    # The loop kept its schedule while the broker was away (blocked in publish, it would not).
    assert rate > 0.8 * RATE, f"{rate:.0f} msg/s tried during the outage, target {RATE:.0f}"
    at_restart = engine.stats.published
    runner.join(wall_s + 30)
    assert result, "the engine stalled"
    stats = result[0]
    print(f"outage: {rate:.0f} msg/s tried; run: published {stats.published},"
          f" dropped {stats.dropped}, wall {stats.wall_s:.1f} s")  # fmt: skip
    assert stats.wall_s < wall_s + 2
    assert stats.dropped > 0 and stats.errors == 0
    assert stats.published > at_restart + 200, "publishing did not resume after the restart"
    # Every reading handed to paho was acked, the buffered ones after their resend (plus each
    # station's retained "online" at start, acked but not counted as published).
    assert stats.acknowledged == stats.published + 2


def test_an_engine_stops_at_once_while_the_broker_is_away(
    private_broker: tuple[Settings, MosquittoService],
) -> None:
    """SIGTERM only sets ``stop``: an engine waiting in publish for acks would not see it."""
    settings, broker = private_broker
    engine, runner, result = _engine(settings, wall_s=60.0)
    assert broker.stop()
    time.sleep(2.0)  # past a full window on both links
    t = time.monotonic()
    engine.stop.set()
    runner.join(30)
    took = time.monotonic() - t
    assert result, "the engine did not stop"
    print(f"stopped {took:.1f} s after the request, dropped {result[0].dropped}")
    assert took < 3.0, f"stopping took {took:.1f} s"
    assert result[0].dropped > 0
