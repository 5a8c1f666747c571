"""``ioc simulate`` as an operator runs it: a fleet at its rates with a JSON summary, and the
replay of a recorded CSV with timestamps shifted to now."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from itertools import pairwise

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ioc_core.stack.processes import free_port
from ioc_core.stack.temporary import settings_env
from simulators.city import build_fleet
from simulators.registration import register_fleet

pytestmark = [pytest.mark.broker]


def _ioc(settings, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = settings_env(settings) | {"IOC_PG_DATABASE": settings.pg_database}
    return subprocess.run([sys.executable, "-m", "ioc_core.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


def test_a_city_fleet_runs_at_its_target_rate_and_reports_json(db_settings, tmp_path):
    truth = tmp_path / "truth.json"
    run = _ioc(db_settings, "simulate", "--devices", "120", "--speed", "30", "--seconds", "10",
               "--seed", "2", "--truth", str(truth), "--json")  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert {"devices", "target_msgs_per_s", "achieved_msgs_per_s", "published", "errors"} <= set(
        result
    )
    assert result["devices"] == 120 and result["errors"] == 0
    assert result["published"] > 0
    assert abs(result["achieved_msgs_per_s"] / result["target_msgs_per_s"] - 1) < 0.25
    doc = json.loads(truth.read_text())
    assert doc["devices"] == 120 and doc["format"] == "ioc-scenario-truth/1"


def test_unknown_scenario_is_a_clear_error(db_settings):
    run = _ioc(db_settings, "simulate", "--scenario", "volcano", "--seconds", "2")
    assert run.returncode == 1
    assert "no bundled scenario 'volcano'" in run.stderr and "Traceback" not in run.stderr


def test_replay_shifts_timestamps_to_now_at_n_times_speed(db_settings, tmp_path):
    register_fleet(db_settings, build_fleet({"air_quality_station": 2}, seed=1))
    csv = tmp_path / "h.csv"
    made = _ioc(db_settings, "simulate", "history", "--kinds", "air_quality_station", "--days",
                "0.25", "--step", "300", "--out", str(csv))  # fmt: skip
    assert made.returncode == 0, made.stderr
    got: list[tuple[datetime, datetime]] = []
    ready = threading.Event()
    rec = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"rec-{uuid.uuid4().hex[:6]}")
    rec.on_connect = lambda c, *_: (c.subscribe("ioc/v1/+/aq-001/telemetry", qos=1), ready.set())
    rec.on_message = lambda _c, _u, m: got.append(
        (datetime.fromisoformat(orjson.loads(m.payload)["ts"]), datetime.now(UTC))
    )
    rec.connect(db_settings.mqtt_host, db_settings.mqtt_port)
    rec.loop_start()
    assert ready.wait(10)
    run = _ioc(db_settings, "simulate", "--replay", str(csv), "--speed", "3600", "--json")
    rec.disconnect()
    rec.loop_stop()
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["published"] == 2 * 73 and result["errors"] == 0  # 6 h at 5 min, 2 stations
    assert 5 <= result["wall_s"] <= 15  # 6 h at 3600x is 6 s
    assert len(got) == 73
    stamps = [ts for ts, _ in got]
    assert all((b - a).total_seconds() == 300 for a, b in pairwise(stamps))
    assert all(ts <= seen for ts, seen in got)  # never stamped in the future
    assert abs((got[-1][1] - stamps[-1]).total_seconds()) < 3  # the last one is "now"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_a_fleet_promptly_while_the_broker_is_unreachable(
    db_settings, tmp_path, signum
):
    """An operator stopping the simulator must not wait out the connect timeout (a minute or
    more) just because the broker is down; systemd and ``ioc demo`` would kill it instead."""
    nobody = db_settings.model_copy(update={"mqtt_port": free_port()})  # no broker listens here
    env = settings_env(nobody) | {"IOC_PG_DATABASE": nobody.pg_database}
    log = tmp_path / "simulate.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ioc_core.cli.main", "simulate", "--devices", "120",
             "--seed", "2", "--seconds", "600", "--json"],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "links, target" not in log.read_text(errors="replace"):  # registered, connecting
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
        time.sleep(1.0)  # well inside the connect wait, paho retrying in the background
        sent = time.monotonic()
        proc.send_signal(signum)
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 5 s after {signum!r}:\n{log.read_text(errors='replace')}")
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text(errors="replace")
    assert code == 0, output
    assert "Traceback" not in output
    assert took < 3, f"{took:.1f} s to stop"
    assert json.loads(output.strip().splitlines()[-1])["published"] == 0
