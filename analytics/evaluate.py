"""``ioc analytics evaluate --scenario S --json``: a simulator scenario through the whole
pipeline, scored against its ground truth.

A private stack (``ioc_core.stack.temporary``); ingest and the alert engine as their own
processes, exactly as deployed; the scenario (contract C3, ``simulators.scenarios``) publishes
over MQTT at ``speed`` x with simulated timestamps; when it is done and the engine has gone quiet,
the alerts in the database are scored with :mod:`analytics.evaluate_score`. This is a CLI tool:
it is the one product module allowed to import ``simulators``, and only inside
:func:`run_evaluation`. Liveness's silence sweep is not run: it judges on the wall clock, which
a replay at speed does not follow; connectivity comes from the engine's last-will detector.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from analytics.evaluate_score import RaisedAlert, RuleScope, averaging_windows, score
from analytics.thresholds import list_rules
from devices.profiles import load_profiles
from ioc_core.settings import Settings
from ioc_core.stack.temporary import settings_env, temporary_stack

__all__ = ["run_evaluation"]

# The engine is quiet when no alert has changed for this long after the scenario ended.
_SETTLE_S = 8.0
_SETTLE_MAX_S = 120.0


def _start(s: Settings, args: list[str], log: Path, ready: str, env: dict[str, str]) -> Any:
    proc = subprocess.Popen([sys.executable, "-m", "ioc_core.cli.main", *args],
                            env={**settings_env(s), **env}, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.time() + 60
    while ready not in log.read_text(errors="replace"):
        if time.time() > deadline or proc.poll() is not None:
            raise RuntimeError(f"{args} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    return proc


def _last_change(conn: psycopg.Connection) -> tuple[int, datetime | None]:
    row = conn.execute("SELECT count(*), max(updated_at) FROM alerts").fetchone()
    assert row is not None
    return int(row[0]), row[1]


def _settle(conn: psycopg.Connection) -> None:
    started = time.monotonic()
    seen, quiet_since = _last_change(conn), time.monotonic()
    while time.monotonic() - started < _SETTLE_MAX_S:
        time.sleep(1.0)
        now = _last_change(conn)
        if now != seen:
            seen, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= _SETTLE_S:
            return


def _raised(
    conn: psycopg.Connection,
) -> tuple[list[RaisedAlert], dict[str, float], dict[str, float]]:
    """The alerts raised, each device's shortest reporting interval and its longest rule
    averaging window (both in seconds, for the matching grace)."""
    rows = conn.execute(
        "SELECT id, kind, device_id, coalesce(event_time, opened_at) FROM alerts ORDER BY id"
    ).fetchall()
    shortest = {k: min(m.interval_s for m in p.metrics) for k, p in load_profiles().items()}
    devices = conn.execute("SELECT id, kind, tenant_id, commune_code FROM devices").fetchall()
    intervals = {d[0]: float(shortest[d[1]]) for d in devices}
    rules = [RuleScope(r.kind, str(r.scope_type), r.scope_value, str(r.window))
             for r in list_rules(conn, enabled=True)]  # fmt: skip
    return [RaisedAlert(*r) for r in rows], intervals, averaging_windows(rules, devices)


def run_evaluation(scenario_name: str, *, speed: float, seed: int) -> dict[str, Any]:
    from simulators.scenarios import load_scenario, run_scenario  # CLI tool only (C3)

    scenario = load_scenario(scenario_name)
    work = Path(os.environ.get("IOC_BENCH_DIR", "/var/tmp")) / f"ioc-evaluate-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    truth_path = work / "truth.json"
    with temporary_stack() as s:
        procs = [
            _start(s, ["ingest", "run"], work / "ingest.log", "subscribed to",
                   {"IOC_INGEST_CLIENT_ID": "evaluate-ingest", "IOC_INGEST_METRICS_PORT": "0"}),
            _start(s, ["analytics", "alerts", "run"], work / "alerts.log", "engine subscribed",
                   {"IOC_ALERTS_CLIENT_ID": "evaluate-alerts",
                    "IOC_ALERTS_RULES_RELOAD_S": "1"}),
        ]  # fmt: skip
        try:
            started = time.monotonic()
            run_scenario(s, scenario, speed=speed, seed=seed, truth_path=truth_path)
            ran_s = time.monotonic() - started
            with psycopg.connect(s.postgres_dsn, autocommit=True) as conn:
                _settle(conn)
                alerts, intervals, windows = _raised(conn)
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(60)
    truth = json.loads(truth_path.read_text())
    result = score(truth["incidents"], alerts, intervals, windows)
    return {
        **result, "scenario": truth.get("scenario", scenario_name), "seed": seed,
        "speed": speed, "devices": truth.get("devices"), "wall_s": round(ran_s, 1),
    }  # fmt: skip
