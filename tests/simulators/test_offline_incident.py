"""An ``offline`` incident on a per-device link, with the broker up and with it down.

Up: the device says ``online`` on a link whose last will is stamped at the incident's start,
vanishes (the broker publishes the will), publishes nothing inside the window, and comes back
with a retained ``online`` at the end. Down: the same transitions must not hold up the engine's
one thread (they waited up to 10 s each for a link to connect), and once the broker is back the
device's new link connects and says ``online``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ioc_core.settings import Settings
from ioc_core.stack.mosquitto import MosquittoService
from simulators.city import build_fleet
from simulators.engine import Engine, RunStats
from simulators.incidents import Incident
from simulators.links import Link
from simulators.scenario_models import IncidentSpec
from simulators.weather import Weather
from simulators.world import AirOptions, World

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

DEVICE, OTHER = "aq-001", "aq-002"  # two stations reporting every 60 s simulated


class Statuses:
    """Every status message of the fleet's devices, retained ones flagged."""

    def __init__(self, settings: Settings) -> None:
        self.got: list[tuple[str, bool, str, datetime, str | None]] = []
        ready = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"rec-{uuid.uuid4().hex[:8]}")
        c.on_connect = lambda c, *_: (c.subscribe("ioc/v1/+/+/status", qos=1), ready.set())
        c.on_message = self._message
        c.connect(settings.mqtt_host, settings.mqtt_port)
        c.loop_start()
        assert ready.wait(10)
        self.client = c

    def _message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        data = orjson.loads(msg.payload)
        device = msg.topic.split("/")[3]
        ts = datetime.fromisoformat(data["ts"])
        self.got.append((device, msg.retain, data["state"], ts, data.get("reason")))

    def of(self, device: str) -> list[tuple[str, datetime]]:
        return [(state, ts) for d, retained, state, ts, _ in self.got if d == device]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _retained(settings: Settings, device: str) -> tuple[str, datetime]:
    """The broker's retained status of ``device`` now, as a newcomer sees it."""
    rec = Statuses(settings)
    deadline = time.monotonic() + 5
    while not rec.of(device) and time.monotonic() < deadline:
        time.sleep(0.05)
    rec.close()
    assert rec.of(device), f"no retained status for {device}"
    return rec.of(device)[-1]


def _engine(
    settings: Settings, speed: float, wall_s: float, offline: tuple[float, float]
) -> tuple[Engine, Incident]:
    """Two stations on per-device links; DEVICE offline from ``offline[0]`` to ``offline[1]``
    wall seconds into the run."""
    start = datetime.now(UTC).replace(microsecond=0)
    end = start + timedelta(seconds=speed * wall_s)
    world = World(seed=1, weather=Weather(seed=1, start=start, end=end), air=AirOptions())
    fleet = build_fleet({"air_quality_station": 2}, seed=1)
    spec = IncidentSpec.model_validate({"type": "offline", "at": 0, "for": 1})
    incident = Incident(
        id="off-1", spec=spec, device_ids=[DEVICE], metric=None,
        start=start + timedelta(seconds=speed * offline[0]),
        end=start + timedelta(seconds=speed * offline[1]),
    )  # fmt: skip
    engine = Engine(
        settings, fleet, world, sim_start=start, speed=speed, sim_end=end, incidents=[incident],
        goodbye=False,  # the retained status at the end is the incident's "online"
    )  # fmt: skip
    return engine, incident


def _timed(engine: Engine) -> list[float]:
    """Wall seconds of each ``_offline_transitions`` call: the engine's thread is held that
    long, every device's schedule with it."""
    took: list[float] = []
    inner: Callable[[float], None] = engine._offline_transitions

    def timed(now: float) -> None:
        t = time.monotonic()
        inner(now)
        took.append(time.monotonic() - t)

    engine._offline_transitions = timed  # type: ignore[method-assign]
    return took


def _tried(link: Link) -> int:
    """Messages the engine has handed to a link: acked, waiting, dropped or failed."""
    return link.acked + link.pending + link.dropped + link.errors


def test_with_the_broker_up_a_device_leaves_its_will_and_comes_back_online(
    private_broker: tuple[Settings, MosquittoService],
) -> None:
    settings, _ = private_broker
    engine, inc = _engine(settings, speed=600.0, wall_s=6.0, offline=(2.0, 4.0))
    took = _timed(engine)
    rec = Statuses(settings)
    telemetry: list[datetime] = []
    rec.client.message_callback_add(
        f"ioc/v1/+/{DEVICE}/telemetry",
        lambda _c, _u, m: telemetry.append(datetime.fromisoformat(orjson.loads(m.payload)["ts"])),
    )
    rec.client.subscribe(f"ioc/v1/+/{DEVICE}/telemetry", qos=1)
    stats = engine.run()
    time.sleep(0.5)
    rec.close()
    print(f"longest offline transition {max(took):.2f} s; {stats.published} published")
    live = [(state, ts) for d, retained, state, ts, _ in rec.got if d == DEVICE and not retained]
    assert live == [
        ("online", engine.sim_start),  # announce
        ("online", inc.start),  # the will link: its will is stamped at the start
        ("offline", inc.start),  # the will, published by the broker
        ("online", inc.end),  # back
    ], live
    will = next(g for g in rec.got if g[0] == DEVICE and g[2] == "offline")
    assert will[4] == "connection lost"
    assert not [ts for ts in telemetry if inc.start <= ts < inc.end]
    assert any(ts >= inc.end for ts in telemetry), "the device did not report after its outage"
    assert stats.errors == 0 and stats.dropped == 0
    assert _retained(settings, DEVICE) == ("online", inc.end)


def test_with_the_broker_down_the_offline_transitions_do_not_hold_up_the_engine(
    private_broker: tuple[Settings, MosquittoService],
) -> None:
    settings, broker = private_broker
    speed, wall_s, rate = 12_000.0, 12.0, 12_000.0 / 60  # OTHER: 200 readings/s
    engine, inc = _engine(settings, speed=speed, wall_s=wall_s, offline=(2.0, 4.0))
    took = _timed(engine)
    result: list[RunStats] = []
    runner = threading.Thread(target=lambda: result.append(engine.run()), daemon=True)
    runner.start()
    deadline = time.monotonic() + 15
    while engine._t0 is None:  # connected and announced: the schedule starts
        assert time.monotonic() < deadline, "the engine did not start"
        time.sleep(0.01)
    t0 = engine._t0

    def until(wall: float) -> None:
        time.sleep(max(0.0, t0 + wall - time.monotonic()))

    until(1.0)
    assert broker.stop()
    until(1.5)
    other = engine.devs[OTHER].link
    before, t = _tried(other), time.monotonic()
    until(4.5)  # the device went offline at 2 s and came back at 4 s meanwhile
    tried_rate = (_tried(other) - before) / (time.monotonic() - t)
    broker.start()
    runner.join(wall_s + 30)
    assert result, "the engine stalled"
    stats = result[0]
    print(f"longest offline transition {max(took):.2f} s; {OTHER} tried {tried_rate:.0f}/s"
          f" while the broker was down (target {rate:.0f}); wall {stats.wall_s:.1f} s")  # fmt: skip
    assert max(took) < 0.5, f"an offline transition held the engine {max(took):.1f} s"
    assert tried_rate > 0.8 * rate, f"{tried_rate:.0f}/s tried, target {rate:.0f}/s"
    assert stats.wall_s < wall_s + 2
    assert stats.errors == 0 and stats.dropped > 0
    back = engine.devs[DEVICE].link
    assert back.acked > 1, "nothing of the device's was acked after the broker came back"
    assert _retained(settings, DEVICE) == ("online", inc.end)
