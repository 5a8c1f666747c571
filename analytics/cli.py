"""``ioc analytics``: rollups and retention, one-shot or as a long-running scheduler.

The scheduler is a plain loop rather than TimescaleDB jobs (``add_job`` is not in the Apache
edition): one process, one connection, refresh every ``rollup_interval_s`` and retention every
``retention_interval_s``; a failed step is logged and retried next time, never fatal.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Annotated

import psycopg
import typer

from analytics.alerts.cli import app as alerts_app
from analytics.aqi_store import refresh_aqi
from analytics.forecast.commands import backtest_command, forecast_once_command
from analytics.history.commands import import_history_command
from analytics.retention import RetentionReport, apply_retention
from analytics.rollups import RefreshResult, refresh_until_caught_up
from ioc_core.cli.common import fail_cleanly, settings_from_env, stop_on_signals
from ioc_core.db import connect_db
from ioc_core.errors import IocError
from ioc_core.settings import Settings

if TYPE_CHECKING:
    from analytics.forecast.service import ModelCache

log = logging.getLogger(__name__)
app = typer.Typer(no_args_is_help=True, help="Telemetry rollups (1m, 1h) and retention.")
# --- alerts ---
app.add_typer(alerts_app, name="alerts")
# --- forecast ---
app.command("backtest")(backtest_command)
app.command("forecast")(forecast_once_command)
app.command("import-history")(import_history_command)


@app.command("evaluate")
@fail_cleanly
def evaluate(
    scenario: Annotated[str, typer.Option("--scenario", help="Bundled name or a YAML path")],
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second")] = 60.0,
    seed: Annotated[int, typer.Option(help="Scenario seed")] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run a simulator scenario through broker, ingest, database and the alert engine on a
    private stack, and score the alerts against its truth (precision, recall, per type)."""
    from analytics.evaluate import run_evaluation

    result = run_evaluation(scenario, speed=speed, seed=seed)
    if not as_json:
        for key in ("precision", "recall", "alerts", "false_positives", "incidents"):
            typer.echo(f"{key:16} {result[key]}")
    typer.echo(json.dumps(result))


# --- end alerts ---


def _connect(settings: Settings) -> psycopg.Connection:
    # Autocommit: refresh and retention open their own short transactions.
    try:
        return connect_db(settings, autocommit=True)
    except psycopg.OperationalError as exc:
        raise IocError(f"cannot reach the database: {exc}") from exc


def _rollup_summary(results: list[RefreshResult]) -> dict[str, object]:
    return {
        "skipped": any(r.skipped for r in results),
        "steps": len(results),
        "buckets_1m": sum(r.buckets_1m for r in results),
        "buckets_1h": sum(r.buckets_1h for r in results),
        "late_hours": sum(len(r.late_hours) for r in results),
        "watermark": results[-1].as_dict()["end"],
    }


def _retention_summary(report: RetentionReport) -> str:
    verb = "would drop" if report.dry_run else "dropped"
    parts = [f"{table}: {verb} {len(chunks)} chunks" for table, chunks in report.chunks.items()]
    parts += [f"{table}: {verb} {rows} rows" for table, rows in report.rows.items()]
    return "retention skipped (another run holds the lock)" if report.skipped else "; ".join(parts)


@app.command("rollup")
@fail_cleanly
def rollup(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Refresh the 1m and 1h rollups once (until caught up) and say what was written."""
    settings = settings_from_env()
    with _connect(settings) as conn:
        summary = _rollup_summary(refresh_until_caught_up(conn, settings))
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(" ".join(f"{k}={v}" for k, v in summary.items()))


@app.command("retention")
@fail_cleanly
def retention(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would go.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Drop telemetry and rollup chunks, and delete rows, older than their retention."""
    settings = settings_from_env()
    with _connect(settings) as conn:
        report = apply_retention(conn, settings, dry_run=dry_run)
    typer.echo(json.dumps(report.as_dict()) if as_json else _retention_summary(report))


@app.command("run")
@fail_cleanly
def run() -> None:
    """Refresh every IOC_ROLLUP_INTERVAL_S and apply retention every IOC_RETENTION_INTERVAL_S
    until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = settings_from_env()
    run_scheduler(settings, stop_on_signals())


def run_scheduler(settings: Settings, stop: threading.Event) -> None:
    """The loop behind ``ioc analytics run``; also callable from a thread (demo, tests).

    The forecast service is imported here, and only when forecasting is on, not with this
    module: it imports scikit-learn, and every ``ioc analytics`` process (the alert engine
    among them) imports this module to build its command line.
    """
    next_retention = time.monotonic()
    next_forecast = time.monotonic()
    forecast_models: ModelCache | None = None  # retrained in place every IOC_FORECAST_RETRAIN_S
    if settings.forecast_enabled:
        from analytics.forecast.service import ModelCache

        forecast_models = ModelCache()
    conn: psycopg.Connection | None = None
    while not stop.is_set():
        try:
            if conn is None or conn.closed:
                conn = _connect(settings)
            log.info("rollup %s", _rollup_summary(refresh_until_caught_up(conn, settings)))
            log.info("aqi %s", refresh_aqi(conn).as_dict())  # hours the rollup changed
            if time.monotonic() >= next_retention:
                log.info("retention %s", _retention_summary(apply_retention(conn, settings)))
                next_retention = time.monotonic() + settings.retention_interval_s
            if forecast_models is not None and time.monotonic() >= next_forecast:
                from analytics.forecast.service import run_forecasts

                log.info("forecast %s", run_forecasts(conn, settings, forecast_models).as_dict())
                next_forecast = time.monotonic() + settings.forecast_interval_s
        except (psycopg.Error, IocError):
            # The database may be restarting: drop the connection and try again next tick.
            log.exception("analytics step failed; retrying in %ss", settings.rollup_interval_s)
            if conn is not None:
                conn.close()
            conn = None
        stop.wait(settings.rollup_interval_s)
    if conn is not None:
        conn.close()
