"""What an operator sees of a running worker: /metrics, `ioc ingest status`, JSON logs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import httpx
import pytest

from ioc_core.stack.processes import free_port
from ioc_core.stack.temporary import settings_env
from tests.ingest.conftest import publish, telemetry, wait_for

pytestmark = [pytest.mark.db, pytest.mark.broker]


@pytest.fixture
def worker_process(db_settings, station, tenant):
    settings = db_settings.model_copy(update={"ingest_metrics_port": free_port()})
    env = {
        **settings_env(settings),
        "IOC_INGEST_CLIENT_ID": f"obs-{tenant}",
        "IOC_LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ioc_core.cli.main", "ingest", "run"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{settings.ingest_metrics_port}/metrics"
    deadline = time.monotonic() + 30
    while True:
        try:
            if "ioc_ingest_broker_connected 1.0" in httpx.get(url, timeout=1).text:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "worker did not come up"
        time.sleep(0.2)
    yield settings, env, proc
    proc.terminate()
    proc.wait(20)


def test_metrics_and_status_report_what_happened(worker_process, conn, publisher, tenant):
    _, env, _ = worker_process
    topic = f"ioc/v1/{tenant}/aq-001/telemetry"
    publish(publisher, topic, telemetry(1, {"pm25": 10.0, "pm10": 20.0}))
    publish(publisher, topic, telemetry(2, {"pm25": 11.0, "radon": 3.0}))
    publish(publisher, topic, b"not json")
    assert wait_for(conn, "SELECT count(*) FROM dead_letters", 2) == 2
    time.sleep(0.5)
    out = subprocess.run(
        [sys.executable, "-m", "ioc_core.cli.main", "ingest", "status", "--json"],
        env=env, capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    status = json.loads(out)
    assert status["broker_connected"] is True and status["database_up"] is True
    assert status["messages_received"] == 3
    assert status["readings_stored"] == 3
    assert status["dead_letters_by_reason"] == {"unknown_metric": 1, "not_json": 1}
    assert status["batches"] >= 1 and status["mean_flush_ms"] > 0


def test_logs_are_json_lines(worker_process):
    _, _, proc = worker_process
    proc.terminate()
    _, err = proc.communicate(timeout=20)
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert any("subscribed to" in line["message"] for line in lines)
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)


def test_status_without_a_worker_says_where_it_looked(db_settings):
    env = {**settings_env(db_settings), "IOC_INGEST_METRICS_PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, "-m", "ioc_core.cli.main", "ingest", "status"],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert env["IOC_INGEST_METRICS_PORT"] in result.stderr and "Traceback" not in result.stderr


def test_the_ready_file_appears_once_subscribed_and_a_reading_sent_then_is_stored(
    db_settings, station, tenant, conn, publisher, tmp_path
):
    """What ``ioc demo`` waits for before it starts the simulated city: after the file, a
    first-ever session (a new client id) already receives what devices publish."""
    ready = tmp_path / "ingest.ready"
    ready.write_text("a last run's\n")  # removed at start, not taken for this run's
    env = {**settings_env(db_settings), "IOC_INGEST_CLIENT_ID": f"ready-{tenant}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ioc_core.cli.main", "ingest", "run", f"--ready-file={ready}"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while (ready.read_text() if ready.exists() else "") != "subscribed\n":
            assert time.monotonic() < deadline and proc.poll() is None, "never ready"
            time.sleep(0.05)
        publish(publisher, f"ioc/v1/{tenant}/aq-001/telemetry", telemetry(1, {"pm25": 10.0}))
        assert wait_for(conn, "SELECT count(*) FROM telemetry", 1) == 1
    finally:
        proc.terminate()
        proc.wait(20)


def test_the_ready_file_waits_for_the_subscription(tmp_path):
    from ingest.cli import _announce_ready

    class Worker:  # what _announce_ready reads of an IngestWorker
        subscribed = threading.Event()

    ready, stop = tmp_path / "ready", threading.Event()
    thread = threading.Thread(target=_announce_ready, args=(Worker, ready, stop), daemon=True)
    thread.start()
    time.sleep(0.5)
    assert not ready.exists()
    Worker.subscribed.set()
    thread.join(5)
    assert ready.read_text() == "subscribed\n"
