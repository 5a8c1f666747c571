"""``ioc ingest``: run the MQTT -> TimescaleDB worker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ingest.control import control_cmd
from ingest.status import read_status
from ingest.worker import IngestWorker
from ioc_core.cli.common import fail_cleanly, settings_from_env, stop_on_signals

app = typer.Typer(no_args_is_help=True, help="MQTT telemetry into TimescaleDB.")
app.command("control")(control_cmd)


@app.command("run")
@fail_cleanly
def run(
    stats_file: Annotated[
        Path | None,
        typer.Option(help="Write the final counters and a sample of commit lags here (JSON)."),
    ] = None,
) -> None:
    """Consume telemetry until SIGINT/SIGTERM, then flush, acknowledge and exit."""
    stop = stop_on_signals()
    worker = IngestWorker(settings_from_env())
    try:
        worker.run(stop)
    finally:
        if stats_file:
            stats_file.write_text(json.dumps(worker.stats.summary()))


@app.command("status")
@fail_cleanly
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The running worker's figures (from its /metrics): received, stored, dead letters..."""
    current = read_status(settings_from_env())
    if as_json:
        typer.echo(json.dumps(current.as_dict()))
        return
    for key, value in current.as_dict().items():
        typer.echo(f"{key:26} {value}")
