"""``ioc analytics alerts``: run the engine; look at the notification outbox."""

from __future__ import annotations

import json
import logging
import os
from typing import Annotated

import typer

from ioc_core.cli.common import fail_cleanly, settings_from_env, stop_on_signals
from ioc_core.db import connect_db

app = typer.Typer(no_args_is_help=True, help="The alert engine (docs/alerts.md).")


@app.command("run")
@fail_cleanly
def run() -> None:
    """Consume readings and status from MQTT, evaluate rules and detectors, raise alerts and
    deliver notifications, until SIGINT/SIGTERM."""
    from analytics.alerts.runner import EngineRunner

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = settings_from_env()
    if settings.alerts_nice:
        # A quality-detector process on a machine with few cores: the rules' process (and
        # ingest, which feeds it) are scheduled first (docs/alerts.md, "Spreading detectors").
        os.nice(settings.alerts_nice)
    EngineRunner(settings).run(stop_on_signals())


@app.command("outbox")
@fail_cleanly
def outbox(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Deliveries pending, delivered and failed, per target."""
    settings = settings_from_env()
    with connect_db(settings) as conn:
        rows = conn.execute(
            """SELECT target, count(*) FILTER (WHERE delivered_at IS NOT NULL),
                      count(*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL),
                      count(*) FILTER (WHERE failed_at IS NOT NULL)
               FROM alert_deliveries GROUP BY target ORDER BY target"""
        ).fetchall()
    doc = {t: {"delivered": d, "pending": p, "failed": f} for t, d, p, f in rows}
    typer.echo(json.dumps(doc) if as_json else "\n".join(f"{t}: {v}" for t, v in doc.items()))
