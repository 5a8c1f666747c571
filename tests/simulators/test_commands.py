"""Simulated devices obey commands sent through the API and the control loop.

The API queues a command, ``ingest control`` publishes it when the device is online, the
simulated device applies it, acknowledges ``accepted`` then ``done``, and its next readings
show the change: a light told to dim reports the level and draws less power; a station told
to report every 10 s does.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from itertools import pairwise

import orjson
import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from ingest.control import ControlLoop
from ioc_api import create_app
from simulators.city import build_fleet
from simulators.engine import Engine
from simulators.registration import register_fleet
from simulators.signals.lighting import lamp_power_w
from simulators.weather import Weather
from simulators.world import World
from tests.conftest import api_key_headers

pytestmark = [pytest.mark.broker]

# Simulated time at 5x wall time: a station told to report every 10 s does so every 2 s of the
# test's time, with readings still stamped 10 s apart. Commands, acks and the control loop run
# in wall time as ever.
SPEED = 5.0


def eventually(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
    return result


@pytest.fixture
def city(db_settings, conn):
    fleet = build_fleet({"lighting_cabinet": 1, "street_light": 2, "air_quality_station": 1},
                        seed=5)  # fmt: skip
    register_fleet(db_settings, fleet)
    readings: dict[str, list[dict]] = defaultdict(list)
    rec = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"rec-{uuid.uuid4().hex[:6]}")
    subscribed = threading.Event()
    rec.on_connect = lambda c, *_: (c.subscribe("ioc/v1/+/+/telemetry", qos=1), subscribed.set())

    def on_message(_c, _u, msg):
        if not msg.retain:
            readings[msg.topic.split("/")[3]].append(orjson.loads(msg.payload))

    rec.on_message = on_message
    rec.connect(db_settings.mqtt_host, db_settings.mqtt_port)
    rec.loop_start()
    assert subscribed.wait(10)
    control = ControlLoop(db_settings, client_id=f"control-{uuid.uuid4().hex[:6]}", tick_s=0.1,
                          sweep_s=0.5)  # fmt: skip
    stops = [threading.Event(), threading.Event()]
    threading.Thread(target=control.run, args=(stops[0],), daemon=True).start()
    assert control.subscribed.wait(15)
    now = datetime.now(UTC).replace(microsecond=0)
    world = World(seed=5, weather=Weather(seed=5, start=now, end=now, rain=False))
    engine = Engine(
        db_settings, fleet, world, sim_start=now, speed=SPEED, stop=stops[1], prompt=True
    )
    runner = threading.Thread(target=engine.run, daemon=True)
    runner.start()
    with TestClient(create_app(db_settings), headers=api_key_headers(conn)) as client:
        yield fleet, readings, client, engine
    for stop in stops:
        stop.set()
    runner.join(30)
    rec.disconnect()
    rec.loop_stop()


def _command(client: TestClient, device: str, name: str, args: dict) -> dict:
    created = client.post(f"/devices/{device}/commands", json={"name": name, "args": args})
    assert created.status_code == 201, created.text
    command_id = created.json()["id"]
    return eventually(
        lambda: (c := client.get(f"/commands/{command_id}").json())["state"] == "done" and c
    )


def test_a_light_told_to_dim_dims_and_its_power_drops(city):
    fleet, readings, client, _ = city
    light = next(d for d in fleet if d.kind == "street_light")
    rated = light.signal.rated_w  # type: ignore[attr-defined]
    eventually(lambda: readings[light.id])  # online and reporting

    done = _command(client, light.id, "set_state", {"state": "on"})
    assert done["acked_at"] is not None
    on = eventually(lambda: [r for r in readings[light.id] if r["metrics"]["state"] == 1.0])[-1]
    assert on["metrics"]["power"] == pytest.approx(lamp_power_w(rated, 100), rel=0.05)

    done = _command(client, light.id, "dim", {"level": 30})
    assert "30" in (done["detail"] or "")
    dimmed = eventually(lambda: [r for r in readings[light.id] if r["metrics"]["dim_level"] == 30])
    power = dimmed[-1]["metrics"]["power"]
    assert power == pytest.approx(lamp_power_w(rated, 30), rel=0.05)
    assert power < 0.5 * on["metrics"]["power"]
    assert dimmed[-1]["metrics"]["current"] < on["metrics"]["current"]

    # the cabinet's circuit follows a cabinet command, the other light with it
    cabinet = next(d for d in fleet if d.kind == "lighting_cabinet")
    other = next(d for d in fleet if d.kind == "street_light" and d.id != light.id)
    _command(client, cabinet.id, "set_state", {"state": "off"})
    eventually(lambda: [r for r in readings[cabinet.id] if r["metrics"]["state"] == 0.0
                        and r["metrics"]["power"] < 0.05])  # fmt: skip
    _command(client, other.id, "reboot", {})
    assert eventually(lambda: readings[other.id])[-1]["metrics"]["state"] == 0.0


def test_a_changed_reporting_interval_takes_effect(city):
    fleet, readings, client, _ = city
    station = next(d for d in fleet if d.kind == "air_quality_station")
    eventually(lambda: readings[station.id])
    _command(client, station.id, "set_interval", {"seconds": 10})
    after = len(readings[station.id])
    eventually(lambda: len(readings[station.id]) >= after + 3, timeout=45)
    stamps = [datetime.fromisoformat(r["ts"]) for r in readings[station.id][after:]]
    gaps = [(b - a).total_seconds() for a, b in pairwise(stamps)]
    assert gaps and all(g == pytest.approx(10, abs=0.01) for g in gaps), gaps


def test_a_bad_command_is_rejected_by_the_api_before_it_reaches_a_lamp(city):
    fleet, _, client, _ = city
    light = next(d for d in fleet if d.kind == "street_light")
    response = client.post(f"/devices/{light.id}/commands",
                           json={"name": "dim", "args": {"level": 140}})  # fmt: skip
    assert response.status_code == 422
