"""``ioc ingest``: run the MQTT -> TimescaleDB worker."""

from __future__ import annotations

import typer

from ingest.worker import IngestWorker
from ioc_core.cli.common import fail_cleanly, settings_from_env, stop_on_signals

app = typer.Typer(no_args_is_help=True, help="MQTT telemetry into TimescaleDB.")


@app.command("run")
@fail_cleanly
def run() -> None:
    """Consume telemetry until SIGINT/SIGTERM, then flush, acknowledge and exit."""
    stop = stop_on_signals()
    IngestWorker(settings_from_env()).run(stop)
