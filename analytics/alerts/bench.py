"""``ioc bench alerts``: triggering message → alert stored and published, under background load.

A private stack; one ingest worker and the alert engine as their own processes (as in
production); a load generator publishing ``--rate`` msg/s of ordinary air-quality telemetry
(ingest's raw QoS 1 publisher, six metrics a message, none breaching a rule); and, once the
load is running, a trigger device publishing every ``--every`` seconds a reading alternately
above and below its own rule's level, each of which must open or resolve an alert. Per trigger:
*stored* is the database clock at the alert's insert/resolve minus the publish time, and
*published* is when the notification arrived on ``ioc/v1/_alerts/...`` minus the publish time
(one machine, one clock). The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import typer
from paho.mqtt.enums import CallbackAPIVersion

from analytics.thresholds import RuleSpec
from analytics.thresholds.service import create_rule
from devices.readings_stream import pack_messages
from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ingest.bench.load import publish_load
from ingest.decode import decode
from ioc_core.cli.common import fail_cleanly
from ioc_core.settings import Settings
from ioc_core.stack.temporary import settings_env, temporary_stack

TENANT = "bench"
TRIGGER = "aq-trigger"
HIGH, LOW, LEVEL = 900.0, 10.0, 500.0
_CORE = ["thresholds", "connectivity"]
_ENGINES: dict[str, list[tuple[str, list[str]]]] = {
    "split": [("core", _CORE), ("detectors", [f"-{d}" for d in _CORE])],
    "single": [("all", [])],
    # The rules' own latency with nothing else judging: what the split deployment's rules
    # process would show on a machine with a core to spare for the quality detectors.
    "rules": [("core", _CORE)],
}


def _setup(s: Settings, devices: int) -> list[str]:
    ids = [f"aq-{i:05d}" for i in range(devices)]
    with psycopg.connect(s.postgres_dsn, autocommit=True) as conn:
        ensure_tenant(conn, TENANT, "Benchmark")
        with conn.transaction():
            for device_id in [*ids, TRIGGER]:
                upsert_device(conn, DeviceIn(id=device_id, kind="air_quality_station",
                                             tenant_id=TENANT))  # fmt: skip
        spec = RuleSpec(name="bench trigger", kind="air_quality_station", metric="pm25",
                        scope_type="device", scope_value=TRIGGER, comparison="above",
                        levels={"warning": LEVEL})  # fmt: skip
        create_rule(conn, spec, changed_by="bench", reason="latency benchmark trigger")
    return ids


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


def _message(rng: random.Random, seq: int, ts: float) -> bytes:
    """Six metrics, as the load generator sends, none breaching a rule."""
    pm25 = round(rng.uniform(5, 150), 1)
    metrics = {"pm25": pm25, "pm10": round(pm25 * 1.6, 1), "no2": round(rng.uniform(5, 120), 1),
               "so2": round(rng.uniform(1, 40), 1), "co": round(rng.uniform(300, 3000)),
               "o3": round(rng.uniform(5, 180), 1)}  # fmt: skip
    stamp = datetime.fromtimestamp(ts, UTC).isoformat()
    return json.dumps({"v": 1, "ts": stamp, "seq": seq, "metrics": metrics}).encode()


def _engine_capacity(s: Settings, ids: list[str], messages: int = 10_000) -> dict[str, float]:
    """Messages per second the engine's judging (rules + detectors, no broker, no commit)
    sustains in this process, with thresholds and connectivity only (``core``) and with every
    registered detector (``all``): the engine's ceiling on this machine, now. Fed as deployed
    (``alerts_input``): ingest's packed readings batches, or raw telemetry it decodes itself.
    """
    from analytics.alerts.engine import AlertEngine

    rng = random.Random(7)
    start = time.time() - 600
    raw = [(f"ioc/v1/{TENANT}/{ids[i % len(ids)]}/telemetry",
            _message(rng, i, start + i * 0.01)) for i in range(messages)]  # fmt: skip
    rates = {}
    with psycopg.connect(s.postgres_dsn, autocommit=True) as conn:
        for name, detectors in (("core", {}), ("all", None)):
            engine = AlertEngine(s, conn, detectors=detectors)
            received = datetime.now(UTC)
            if s.alerts_input == "readings":
                rows = [r for topic, payload in raw
                        for r in decode(topic, payload, received_at=received, cache=engine.cache,
                                        limits=engine.limits).rows]  # fmt: skip
                packed = pack_messages(rows)
                began = time.perf_counter()
                for payload in packed:
                    engine.handle_readings(payload)
            else:
                began = time.perf_counter()
                for topic, payload in raw:
                    engine.handle(topic, payload, received)
            rates[name] = messages / (time.perf_counter() - began)
    return rates


def _behind_s(log: Path, load_ended: float) -> float | None:
    """How far each engine's event time was behind the load's last message when it was
    stopped (up to 30 s after the load ended): 0 means it had judged everything."""
    found = re.findall(r"alert engine stopped: .* watermark=(\S+) unjudged", log.read_text())
    if not found or found[-1] == "None":
        return None
    return round(max(0.0, load_ended - datetime.fromisoformat(found[-1]).timestamp()), 1)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000, 1)


def run_alert_bench(
    *, seconds: float, rate: float, devices: int, every: float, engines: str = "split",
    nice: int = 0, ingest_workers: int = 2,
) -> dict[str, Any]:  # fmt: skip
    work = Path(os.environ.get("IOC_BENCH_DIR", "/var/tmp")) / f"ioc-bench-alerts-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    with temporary_stack() as s:
        ids = _setup(s, devices)
        capacity = _engine_capacity(s, ids)
        # As deployed (docs/ingest.md): several workers split the load through a shared
        # subscription, each publishing its own readings stream.
        group = {"IOC_INGEST_SHARED_GROUP": "bench-ingest"} if ingest_workers > 1 else {}
        procs = [
            _start(s, ["ingest", "run"], work / f"ingest-{i}.log", "subscribed to",
                   {"IOC_INGEST_CLIENT_ID": f"bench-ingest-{i}", "IOC_INGEST_METRICS_PORT": "0",
                    **group})
            for i in range(ingest_workers)
        ]  # fmt: skip
        # split: thresholds and connectivity in one engine, every other detector in another
        # (docs/alerts.md, "Spreading detectors"); single: one engine runs them all.
        for n, (tag, detectors) in enumerate(_ENGINES[engines]):
            env = {"IOC_ALERTS_CLIENT_ID": f"bench-alerts-{tag}",
                   "IOC_ALERTS_SHARED_GROUP": f"bench-{tag}",
                   "IOC_ALERTS_DETECTORS": json.dumps(detectors),
                   "IOC_ALERTS_NICE": str(nice if tag == "detectors" else 0)}  # fmt: skip
            procs.append(_start(s, ["analytics", "alerts", "run"], work / f"alerts-{n}.log",
                                "engine subscribed", env))  # fmt: skip
        published_at: dict[str, float] = {}
        notified: dict[str, float] = {}

        def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
            doc = json.loads(msg.payload)
            if (doc["device_id"] == TRIGGER and doc["op"] in ("opened", "resolved")
                    and doc["kind"] == "threshold"):  # fmt: skip
                notified.setdefault(doc["event_time"], time.time())

        sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{uuid.uuid4().hex}")
        sub.on_message = on_message
        sub.connect(s.mqtt_host, s.mqtt_port)
        sub.subscribe(f"ioc/v1/_alerts/{TENANT}/#", qos=1)
        sub.loop_start()
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-trig-{uuid.uuid4().hex}")
        pub.connect(s.mqtt_host, s.mqtt_port)
        pub.loop_start()
        pool = ProcessPoolExecutor(1)
        load = pool.submit(publish_load, host=s.mqtt_host, port=s.mqtt_port, tenant=TENANT,
                           device_ids=ids, seconds=seconds, rate=rate,
                           client_id="bench-load")  # fmt: skip
        try:
            time.sleep(min(3.0, seconds / 4))  # the load is flowing before the first trigger
            seq, end = 0, time.time() + seconds - 4
            while time.time() < end:
                seq += 1
                now = datetime.now(UTC)
                stamp = now.isoformat()
                body = json.dumps({"v": 1, "ts": stamp, "seq": seq,
                                   "metrics": {"pm25": HIGH if seq % 2 else LOW}})  # fmt: skip
                published_at[stamp] = time.time()
                pub.publish(f"ioc/v1/{TENANT}/{TRIGGER}/telemetry", body, qos=1)
                time.sleep(every)
            result = load.result()
            deadline = time.time() + 30
            while len(notified) < len(published_at) and time.time() < deadline:
                time.sleep(0.1)
        finally:
            pool.shutdown()
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(60)
            sub.loop_stop()
            pub.loop_stop()
        with psycopg.connect(s.postgres_dsn) as conn:
            rows = conn.execute(
                # The trigger's rule only: the quality detectors rightly see its 900/10
                # alternation as spikes, and their alerts are not what is timed here.
                """SELECT event_time, opened_at FROM alerts
                   WHERE device_id = %s AND kind = 'threshold'
                   UNION ALL SELECT last_event_time, resolved_at FROM alerts
                   WHERE device_id = %s AND kind = 'threshold' AND resolved_at IS NOT NULL""",
                (TRIGGER, TRIGGER),
            ).fetchall()
    behind = {tag: _behind_s(work / f"alerts-{n}.log", result.last_at)
              for n, (tag, _) in enumerate(_ENGINES[engines])}  # fmt: skip
    stored = [at.timestamp() - published_at[t.isoformat()] for t, at in rows
              if t.isoformat() in published_at]  # fmt: skip
    published = [notified[k] - published_at[k] for k in notified if k in published_at]
    elapsed = max(1e-9, result.last_at - result.first_at)
    return {
        "p50_ms": _percentile(published, 0.5), "p99_ms": _percentile(published, 0.99),
        "stored_p50_ms": _percentile(stored, 0.5), "stored_p99_ms": _percentile(stored, 0.99),
        "max_ms": _percentile(published, 1.0), "triggers": len(published_at),
        "stored": len(stored), "notified": len(published),
        "missed": len(published_at) - len(published),
        "background_msgs_per_s": round(result.published / elapsed),
        "background_published": result.published, "offered_msgs_per_s": rate,
        "engines": engines, "input": s.alerts_input, "detectors_nice": nice,
        "ingest_workers": ingest_workers,
        "devices": devices, "seconds": seconds,
        "engine_capacity_msgs_per_s": {k: round(v) for k, v in capacity.items()},
        "engines_behind_s": behind,
        "machine": platform.processor() or platform.machine(),
        "load_average": os.getloadavg()[0],
    }  # fmt: skip


@fail_cleanly
def bench_alerts(
    seconds: float = typer.Option(40.0, min=10, help="Background publishing time."),
    rate: float = typer.Option(10_000, min=1, help="Background load, msg/s offered."),
    devices: int = typer.Option(2_000, min=1, help="Background air-quality stations."),
    every: float = typer.Option(0.25, min=0.05, help="Seconds between trigger messages."),
    engines: str = typer.Option(
        "split",
        help="split: thresholds+connectivity and the other detectors in two "
        "processes; single: one process runs every detector; rules: thresholds+connectivity "
        "only, no quality detectors.",
    ),
    nice: int = typer.Option(
        0,
        min=0,
        max=19,
        help="split: CPU niceness of the quality detectors' process, so on few cores the "
        "rules' process (the latency measured) is scheduled first (docs/alerts.md).",
    ),
    ingest_workers: int = typer.Option(
        2, min=1, help="Ingest workers sharing the load (docs/ingest.md: two on two cores)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print only the JSON result."),
) -> None:
    """Latency of the alert engine: triggering message → alert stored and published."""
    if as_json:
        logging.getLogger().setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if engines not in _ENGINES:
        raise typer.BadParameter(f"--engines must be one of {', '.join(_ENGINES)}")
    result = run_alert_bench(seconds=seconds, rate=rate, devices=devices, every=every,
                             engines=engines, nice=nice, ingest_workers=ingest_workers)  # fmt: skip
    if not as_json:
        for key, value in result.items():
            typer.echo(f"{key:24} {value}")
    typer.echo(json.dumps(result))
