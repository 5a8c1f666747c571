"""One benchmark run: a private stack, then four phases on the same machine, one JSON result.

1. broker only: publishers flat out -> Mosquitto -> a subscriber that discards;
2. ingest: publishers flat out -> Mosquitto -> ingest workers -> TimescaleDB, until drained;
3. latency: publishers at a fixed offered rate -> ingest; publish -> commit p50/p99;
4. naive: publishers flat out -> one INSERT per message, autocommit.

Throughput is what was stored over the time from the first publish to the last commit, so a
backlog the workers are still draining counts against them. Lost and duplicated readings are
counted in the database against what the broker acknowledged to the publishers.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg

from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ingest.bench.baselines import discard, naive_insert
from ingest.bench.load import METRICS_PER_MESSAGE, LoadResult, publish_load
from ioc_core.settings import Settings
from ioc_core.stack.temporary import settings_env, temporary_stack

TENANT = "bench"
TOPIC = f"ioc/v1/{TENANT}/+/telemetry"


@dataclass(frozen=True)
class BenchConfig:
    seconds: float
    devices: int = 2_000
    publishers: int = 1
    workers: int = 1
    latency_rate: float = 10_000.0
    rate: float | None = None  # offered load of the throughput phases; None = flat out


def _register(settings: Settings, count: int) -> list[str]:
    ids = [f"aq-{i:05d}" for i in range(count)]
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        ensure_tenant(conn, TENANT, "Benchmark")
        with conn.transaction():
            for device_id in ids:
                upsert_device(
                    conn, DeviceIn(id=device_id, kind="air_quality_station", tenant_id=TENANT)
                )
    return ids


def _publish(
    pool: ProcessPoolExecutor, s: Settings, ids: list[str], cfg: BenchConfig, rate: float | None,
    tag: str,
) -> list[Any]:  # fmt: skip
    n = cfg.publishers
    per_rate = rate / n if rate else None
    return [
        pool.submit(
            publish_load, host=s.mqtt_host, port=s.mqtt_port, tenant=TENANT,
            device_ids=ids[i::n], seconds=cfg.seconds, rate=per_rate,
            client_id=f"bench-pub-{tag}-{i}", seed=i,
        )
        for i in range(n)
    ]  # fmt: skip


def _collect(futures: list[Any]) -> tuple[int, float]:
    results: list[LoadResult] = [f.result() for f in futures]
    return sum(r.published for r in results), min(r.first_at for r in results)


def _stored_readings(conn: psycopg.Connection) -> int:
    # Maintained by every batch, so this is cheap to poll while a phase drains.
    return int(conn.execute("SELECT coalesce(sum(readings), 0) FROM telemetry_touched_hours")
               .fetchone()[0])  # type: ignore[index]  # fmt: skip


def _reset(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE telemetry, telemetry_touched_hours, telemetry_conflicts, dead_letters")


def _start_workers(s: Settings, cfg: BenchConfig, tag: str, stats_dir: Path) -> list[Any]:
    procs = []
    for i in range(cfg.workers):
        env = {
            **settings_env(s),
            "IOC_INGEST_CLIENT_ID": f"bench-ingest-{tag}-{i}",
            "IOC_INGEST_METRICS_PORT": "0",
        }
        if cfg.workers > 1:
            env["IOC_INGEST_SHARED_GROUP"] = f"bench-{tag}"
        log = (stats_dir / f"ingest-{tag}-{i}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "ioc_core.cli.main", "ingest", "run",
                 "--stats-file", str(stats_dir / f"stats-{tag}-{i}.json")],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
    deadline = time.time() + 30
    for i in range(cfg.workers):
        log_path = stats_dir / f"ingest-{tag}-{i}.log"
        while "subscribed to" not in log_path.read_text(errors="replace"):
            if time.time() > deadline or procs[i].poll() is not None:
                raise RuntimeError(f"ingest worker did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
    return procs


def _stop_workers(procs: list[Any], stats_dir: Path, tag: str) -> list[dict[str, Any]]:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(60)
    return [
        json.loads((stats_dir / f"stats-{tag}-{i}.json").read_text()) for i in range(len(procs))
    ]


def _ingest_phase(
    s: Settings, conn: psycopg.Connection, ids: list[str], cfg: BenchConfig,
    pool: ProcessPoolExecutor, *, rate: float | None, tag: str, stats_dir: Path,
) -> dict[str, Any]:  # fmt: skip
    _reset(conn)
    procs = _start_workers(s, cfg, tag, stats_dir)
    try:
        published, first_at = _collect(_publish(pool, s, ids, cfg, rate, tag))
        expected = published * METRICS_PER_MESSAGE
        last_change, last_count = time.time(), -1
        while True:
            count = _stored_readings(conn)
            if count != last_count:
                last_change, last_count = time.time(), count
            if count >= expected or time.time() - last_change > 20:
                break
            time.sleep(0.05)
        done_at = last_change
    finally:
        stats = _stop_workers(procs, stats_dir, tag)
    # Every published message carries exactly one reading of each of the six metrics, so
    # per-metric counts tell loss and duplication exactly, without a DISTINCT over millions
    # of rows: a message missing any reading is lost; a metric counted more often than
    # messages were published has duplicates.
    per_metric = [
        int(n) for (n,) in conn.execute("SELECT count(*) FROM telemetry GROUP BY metric_id")
    ]
    per_metric += [0] * (METRICS_PER_MESSAGE - len(per_metric))
    rows = sum(per_metric)
    stored_msgs = min(min(per_metric), published)
    duplicate_rows = sum(max(0, n - published) for n in per_metric)
    lags = sorted(x for st in stats for x in st["lag_sample_s"])
    return {
        "published": published,
        "stored_msgs": stored_msgs,
        "stored_points": rows,
        "lost": published - stored_msgs,
        "duplicated": duplicate_rows,
        "conflicts": int(conn.execute("SELECT count(*) FROM telemetry_conflicts").fetchone()[0]),  # type: ignore[index]
        "dead_letters": int(conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0]),  # type: ignore[index]
        "seconds": round(done_at - first_at, 2),
        "msgs_per_s": round(stored_msgs / (done_at - first_at)),
        "p50_ms": round(lags[len(lags) // 2] * 1000, 1) if lags else None,
        "p99_ms": round(lags[int(len(lags) * 0.99)] * 1000, 1) if lags else None,
    }


def _consumer_phase(
    target: Any, args: tuple[Any, ...], s: Settings, ids: list[str], cfg: BenchConfig,
    pool: ProcessPoolExecutor, tag: str,
) -> tuple[int, float, float]:  # fmt: skip
    manager = mp.get_context("spawn").Manager()
    ready = manager.Event()
    stop_at = time.time() + cfg.seconds + 3
    consumer = pool.submit(target, *args, stop_at, ready)  # type: ignore[call-arg]
    if not ready.wait(30):
        raise RuntimeError(f"{tag} consumer did not start: {consumer.exception(timeout=1)}")
    published, first_at = _collect(_publish(pool, s, ids, cfg, cfg.rate, tag))
    result = consumer.result()
    manager.shutdown()
    return published, first_at, result.messages / max(1e-9, result.last_at - first_at)


def run_benchmark(cfg: BenchConfig) -> dict[str, Any]:
    started = time.time()
    stats_dir = Path(os.environ.get("IOC_BENCH_DIR", "/var/tmp")) / f"ioc-bench-{os.getpid()}"
    stats_dir.mkdir(parents=True, exist_ok=True)
    with temporary_stack() as s:
        ids = _register(s, cfg.devices)
        pool = ProcessPoolExecutor(
            max_workers=cfg.publishers + 1, mp_context=mp.get_context("spawn")
        )
        with pool, psycopg.connect(s.postgres_dsn, autocommit=True) as conn:
            _, _, broker_rate = _consumer_phase(
                discard, (s.mqtt_host, s.mqtt_port, TOPIC), s, ids, cfg, pool, "broker"
            )
            throughput = _ingest_phase(
                s, conn, ids, cfg, pool, rate=cfg.rate, tag="max", stats_dir=stats_dir
            )
            latency = _ingest_phase(
                s, conn, ids, cfg, pool, rate=cfg.latency_rate, tag="lat", stats_dir=stats_dir
            )
            _reset(conn)
            _, _, naive_rate = _consumer_phase(
                naive_insert, (s.mqtt_host, s.mqtt_port, TOPIC, s.postgres_dsn), s, ids, cfg,
                pool, "naive",
            )  # fmt: skip
    return {
        "msgs_per_s": throughput["msgs_per_s"],
        "points_per_s": throughput["msgs_per_s"] * METRICS_PER_MESSAGE,
        "broker_only_msgs_per_s": round(broker_rate),
        "naive_msgs_per_s": round(naive_rate),
        "p50_ms": latency["p50_ms"],
        "p99_ms": latency["p99_ms"],
        "latency_offered_msgs_per_s": cfg.latency_rate,
        "published": throughput["published"] + latency["published"],
        "stored_msgs": throughput["stored_msgs"] + latency["stored_msgs"],
        "lost": throughput["lost"] + latency["lost"],
        "duplicated": throughput["duplicated"] + latency["duplicated"],
        "throughput_phase": throughput,
        "latency_phase": latency,
        "config": {**asdict(cfg), "metrics_per_message": METRICS_PER_MESSAGE},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "wall_seconds": round(time.time() - started, 1),
    }
