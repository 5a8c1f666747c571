"""``ioc stack``: real PostgreSQL and Mosquitto, started, refused and stopped as promised."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import psycopg
import pytest

from ioc_core.errors import DataDirError, PortInUseError, StackError
from ioc_core.stack import stack_down, stack_status, stack_up
from ioc_core.stack.mosquitto import broker_reachable
from ioc_core.stack.processes import PidFile, pid_alive
from tests.conftest import make_var_dir, stack_settings

pytestmark = [pytest.mark.db, pytest.mark.broker, pytest.mark.slow]


@pytest.fixture
def fresh():
    """A stack folder of this test's own (not the session stack), removed afterwards."""
    var_dir = make_var_dir()
    settings = stack_settings(var_dir)
    yield settings
    stack_down(settings)
    shutil.rmtree(var_dir, ignore_errors=True)


def _cli(settings, *args):
    env = {
        **os.environ,
        "IOC_VAR_DIR": str(settings.var_dir),
        "IOC_PG_PORT": str(settings.pg_port),
        "IOC_MQTT_PORT": str(settings.mqtt_port),
    }
    return subprocess.run(
        [sys.executable, "-m", "ioc_core.cli.main", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_up_status_second_up_and_down_through_the_cli(fresh):
    up = _cli(fresh, "stack", "up")
    assert up.returncode == 0, up.stderr
    assert "started: postgres, mqtt" in up.stdout
    assert "0001_initial" in up.stdout

    status = json.loads(_cli(fresh, "stack", "status", "--json").stdout)
    assert status["running"] is True
    assert status["mqtt_port"] == fresh.mqtt_port
    assert status["postgres_dsn"] == fresh.postgres_dsn
    with psycopg.connect(fresh.postgres_dsn) as conn:
        (ext,) = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        assert ext.startswith("2.19.")
    assert broker_reachable(fresh.mqtt_host, fresh.mqtt_port)

    again = _cli(fresh, "stack", "up")
    assert again.returncode == 0
    assert "already running" in again.stdout

    pids = [s["pid"] for s in status["services"].values()]
    down = _cli(fresh, "stack", "down")
    assert down.returncode == 0 and "stopped: mqtt, postgres" in down.stdout
    assert not any(pid_alive(pid) for pid in pids)
    assert json.loads(_cli(fresh, "stack", "status", "--json").stdout)["running"] is False
    assert (fresh.log_dir / "postgres.log").exists() and (fresh.log_dir / "mosquitto.log").exists()


def test_taken_port_is_named_and_nothing_is_left_half_started(fresh):
    with socket.socket() as squatter:
        squatter.bind((fresh.mqtt_host, fresh.mqtt_port))
        squatter.listen()
        with pytest.raises(PortInUseError) as info:
            stack_up(fresh)
        assert str(fresh.mqtt_port) in str(info.value) and "IOC_MQTT_PORT" in str(info.value)
        result = _cli(fresh, "stack", "up")
    assert result.returncode == 1
    assert f"port {fresh.mqtt_port}" in result.stderr and "IOC_MQTT_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert stack_status(fresh).services["postgres"].running is False
    assert not (fresh.run_dir / "postgres.pid").exists()


def test_foreign_data_directory_is_refused_and_kept(fresh):
    fresh.pg_data_dir.mkdir(parents=True)
    precious = fresh.pg_data_dir / "thesis.txt"
    precious.write_text("not a database")
    with pytest.raises(DataDirError, match=str(fresh.pg_data_dir)):
        stack_up(fresh)
    assert precious.read_text() == "not a database"
    assert stack_status(fresh).running is False


def test_cluster_of_another_postgres_version_is_refused(fresh):
    fresh.pg_data_dir.mkdir(parents=True)
    (fresh.pg_data_dir / "PG_VERSION").write_text("13\n")
    with pytest.raises(DataDirError, match="PostgreSQL 13"):
        stack_up(fresh)
    assert (fresh.pg_data_dir / "PG_VERSION").exists()


def test_corrupt_cluster_is_reported_with_its_path_and_left_alone(fresh):
    stack_up(fresh)
    stack_down(fresh)
    control = fresh.pg_data_dir / "global" / "pg_control"
    control.write_bytes(b"\0" * 100)  # a damaged control file
    with pytest.raises(StackError, match=str(fresh.pg_data_dir)):
        stack_up(fresh)
    assert control.read_bytes() == b"\0" * 100 and (fresh.pg_data_dir / "PG_VERSION").exists()
    status = stack_status(fresh)
    assert not status.services["postgres"].running and not status.services["mqtt"].running


def test_down_never_signals_a_process_it_did_not_start(fresh):
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        # A stale pid file that now points at someone else's process (pid reuse).
        PidFile(fresh.run_dir / "mosquitto.pid", marker="unused").write(stranger.pid)
        PidFile(fresh.run_dir / "postgres.pid", marker="unused").write(stranger.pid)
        assert stack_down(fresh) == []
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_a_restart_keeps_the_data(fresh):
    stack_up(fresh)
    with psycopg.connect(fresh.postgres_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    stack_down(fresh)
    status = stack_up(fresh)
    assert status.started == ["postgres", "mqtt"]
    with psycopg.connect(fresh.postgres_dsn) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (42,)
