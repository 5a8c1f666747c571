"""Profile an ingest worker draining a backlog, as docs/performance.md describes.

Fills the worker's persistent-session queue while it is stopped, restarts it under
``py-spy record`` and waits for the drain. Needs py-spy (``.venv/bin/python -m pip install
py-spy``); writes collapsed stacks to the path given (default /tmp/prof.raw).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from ingest.bench.load import METRICS_PER_MESSAGE, publish_load
from ingest.bench.run import TENANT, _register
from ioc_core.stack.temporary import settings_env, temporary_stack


def main(out: str = "/tmp/prof.raw", seconds: float = 8, profile_s: int = 12) -> None:
    with temporary_stack(mqtt_max_queued_messages=5_000_000) as s:
        ids = _register(s, 2000)
        env = {**settings_env(s), "IOC_INGEST_CLIENT_ID": "prof", "IOC_INGEST_METRICS_PORT": "0"}
        argv = [sys.executable, "-m", "ioc_core.cli.main", "ingest", "run"]
        worker = subprocess.Popen(argv, env=env)  # creates the persistent session
        time.sleep(3)
        worker.send_signal(signal.SIGTERM)
        worker.wait()
        load = publish_load(
            host=s.mqtt_host, port=s.mqtt_port, tenant=TENANT, device_ids=ids,
            seconds=seconds, rate=None, client_id="prof-pub",
        )  # fmt: skip
        print(f"queued {load.published} messages", flush=True)
        worker = subprocess.Popen(argv, env=env)
        started = time.time()
        py_spy = Path(sys.executable).parent / "py-spy"
        spy = subprocess.Popen(
            [str(py_spy), "record", "-p", str(worker.pid), "-d", str(profile_s), "-f", "raw",
             "-o", out, "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        with psycopg.connect(s.postgres_dsn, autocommit=True) as conn:
            query = "SELECT coalesce(sum(readings), 0) FROM telemetry_touched_hours"
            while conn.execute(query).fetchone()[0] < load.published * METRICS_PER_MESSAGE:  # type: ignore[index]
                time.sleep(0.2)
        elapsed = time.time() - started
        print(f"drained in {elapsed:.1f} s = {load.published / elapsed:,.0f} msg/s (profiled)")
        spy.wait()
        worker.send_signal(signal.SIGTERM)
        worker.wait()


if __name__ == "__main__":
    main(*sys.argv[1:2])
