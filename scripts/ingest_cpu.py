"""Ingest's CPU time per message, which a shared machine does not distort as it does wall time.

``drain SECONDS``: queue SECONDS of flat-out load in one worker's persistent session, start it,
and read its CPU time (``/proc/<pid>/stat``) from its first stored reading to the last.
``live WORKERS``: WORKERS workers on a shared subscription under 10,000 msg/s for 30 s.
Each prints one line; docs/performance.md ("Second profile") has what they gave.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from ingest.bench.load import METRICS_PER_MESSAGE, publish_load
from ingest.bench.run import TENANT, _register
from ioc_core.settings import Settings
from ioc_core.stack.temporary import settings_env, temporary_stack

_ARGV = [sys.executable, "-m", "ioc_core.cli.main", "ingest", "run"]


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(s: Settings, client_id: str, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    env = {**settings_env(s), "IOC_INGEST_CLIENT_ID": client_id, "IOC_INGEST_METRICS_PORT": "0",
           **extra}  # fmt: skip
    worker = subprocess.Popen(_ARGV, env=env, stderr=log.open("w"))
    while "subscribed to" not in log.read_text():
        time.sleep(0.2)
    return worker


def drain(seconds: float) -> None:
    with temporary_stack(mqtt_max_queued_messages=5_000_000) as s:
        ids = _register(s, 2000)
        log = s.var_dir / "drain.log"
        worker = _start(s, "drain", log)  # creates the persistent session, then goes away
        worker.send_signal(signal.SIGTERM)
        worker.wait()
        load = publish_load(host=s.mqtt_host, port=s.mqtt_port, tenant=TENANT, device_ids=ids,
                            seconds=seconds, rate=None, client_id="drain-pub")  # fmt: skip
        worker = _start(s, "drain", log)
        query = "SELECT coalesce(sum(readings), 0)::bigint FROM telemetry_touched_hours"
        with psycopg.connect(s.postgres_dsn, autocommit=True) as conn:
            first: tuple[float, float, int] | None = None
            while True:
                stored = conn.execute(query).fetchone()[0]  # type: ignore[index]
                if stored and first is None:
                    first = (_cpu_s(worker.pid), time.time(), stored)
                if stored >= load.published * METRICS_PER_MESSAGE:
                    break
                time.sleep(0.05)
            cpu, wall = _cpu_s(worker.pid), time.time()
        worker.send_signal(signal.SIGTERM)
        worker.wait()
    assert first is not None
    msgs = (stored - first[2]) / METRICS_PER_MESSAGE
    print(f"drained {msgs:,.0f} msgs in {wall - first[1]:.1f} s; CPU {cpu - first[0]:.1f} s = "
          f"{(cpu - first[0]) / msgs * 1e6:.1f} us/msg; load {os.getloadavg()[0]:.1f}")  # fmt: skip


def live(workers: int) -> None:
    with temporary_stack() as s:
        ids = _register(s, 2000)
        procs = [_start(s, f"live-{i}", s.var_dir / f"live-{i}.log",
                        IOC_INGEST_SHARED_GROUP="live") for i in range(workers)]  # fmt: skip
        before = sum(_cpu_s(p.pid) for p in procs)
        load = publish_load(host=s.mqtt_host, port=s.mqtt_port, tenant=TENANT, device_ids=ids,
                            seconds=30, rate=10_000, client_id="live-pub")  # fmt: skip
        used = sum(_cpu_s(p.pid) for p in procs) - before
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait()
    print(f"{load.published:,} msgs to {workers} workers; CPU {used:.1f} s = "
          f"{used / load.published * 1e6:.1f} us/msg; load {os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    mode, arg = sys.argv[1], sys.argv[2]
    drain(float(arg)) if mode == "drain" else live(int(arg))
