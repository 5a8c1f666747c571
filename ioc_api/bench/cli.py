"""``ioc bench query``: seed 100 M readings into a database of its own, time the wall's queries.

The database is created on the configured PostgreSQL (``IOC_*`` settings), or on a private
temporary stack with ``--temporary``, migrated like any other, and dropped at the end unless
``--keep``. The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import logging
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import typer
from psycopg import sql

from ioc_api.bench.query import measure
from ioc_api.bench.seed import seed, seeded_report
from ioc_core.cli.common import fail_cleanly, settings_from_env
from ioc_core.db import fetch_one
from ioc_core.errors import IocError
from ioc_core.plugins import migrate_and_sync
from ioc_core.settings import Settings
from ioc_core.stack.temporary import temporary_stack

DB_NAME = "ioc_bench_query"
WALL_QUERIES = ("latest_per_device", "device_24h_1m", "commune_7d_1h", "aqi_map")


@contextmanager
def _server(temporary: bool) -> Iterator[Settings]:
    if temporary:
        with temporary_stack(migrate=False) as settings:
            yield settings
    else:
        yield settings_from_env()


@contextmanager
def _database(settings: Settings, keep: bool, reuse: bool) -> Iterator[Settings]:
    try:
        admin = psycopg.connect(settings.dsn_for("postgres"), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise IocError(f"cannot reach PostgreSQL ({exc}); run `ioc stack up` or pass "
                       "--temporary") from exc  # fmt: skip
    name = sql.Identifier(DB_NAME)
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,))
        if not (reuse and exists.fetchone()):
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        yield settings.model_copy(update={"pg_database": DB_NAME, "postgres_dsn_override": None})
    finally:
        if not keep:
            with psycopg.connect(settings.dsn_for("postgres"), autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


@fail_cleanly
def bench_query(
    devices: int = typer.Option(1_000, min=3, help="Devices (half air quality, a third traffic)."),
    days: int = typer.Option(31, min=1, help="Days of 1-minute readings, 3 metrics a device."),
    iterations: int = typer.Option(200, min=20, help="Timed runs of each query."),
    temporary: bool = typer.Option(False, help="Use a private temporary stack."),
    keep: bool = typer.Option(False, help="Keep the benchmark database afterwards."),
    reuse: bool = typer.Option(
        False, help="Measure again on a database kept by --keep (no seeding)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print only the JSON result."),
) -> None:
    """Time latest-per-device, 24 h of 1-minute buckets, 7 days hourly for a commune and the
    current AQI map against devices x days x 1,440 x 3 readings (default 134 M)."""
    if as_json:
        logging.getLogger().setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    def say(text: str) -> None:
        if not as_json:
            typer.echo(text)

    result: dict[str, Any] = {}
    with _server(temporary) as server, _database(server, keep, reuse) as settings:
        with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
            started = time.perf_counter()
            seeded = reuse and fetch_one(conn, "SELECT to_regclass('telemetry_latest')")
            if seeded and seeded[0]:
                report = seeded_report(conn)
            else:
                migrate_and_sync(conn)
                report = seed(conn, devices=devices, days=days, progress=say)
            seed_s = time.perf_counter() - started
        with psycopg.connect(settings.postgres_dsn, autocommit=True) as api_conn:
            queries = measure(api_conn, iterations=iterations)
            size = fetch_one(api_conn, "SELECT pg_database_size(current_database())")
        result = {
            "rows": report.rows, "rows_1m": report.rows_1m, "rows_1h": report.rows_1h,
            "devices": report.devices, "series": report.series, "days": days,
            "seed_s": round(seed_s, 1), "database_gb": round(size[0] / 1e9, 2) if size else None,
            "iterations": iterations, **queries,
            "p95_goal_met": all(queries[q]["p95_ms"] < 50 for q in WALL_QUERIES),
        }  # fmt: skip
    for name in (*WALL_QUERIES, "latest_sweep"):
        say(f"{name:20} p50 {result[name]['p50_ms']:8.2f} ms  p95 {result[name]['p95_ms']:8.2f} ms")
    typer.echo(json.dumps(result))
