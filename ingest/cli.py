"""``ioc ingest``: run the MQTT -> TimescaleDB worker."""

from __future__ import annotations

import json
import threading
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
    ready_file: Annotated[
        Path | None,
        typer.Option(
            help="Create this file once subscribed: until then a new broker session queues "
            "nothing, so a supervisor starts publishers after it (ioc demo does)."
        ),
    ] = None,
) -> None:
    """Consume telemetry until SIGINT/SIGTERM, then flush, acknowledge and exit."""
    stop = stop_on_signals()
    worker = IngestWorker(settings_from_env())
    if ready_file:
        ready_file.unlink(missing_ok=True)
        threading.Thread(
            target=_announce_ready, args=(worker, ready_file, stop), daemon=True
        ).start()
    try:
        worker.run(stop)
    finally:
        if stats_file:
            stats_file.write_text(json.dumps(worker.stats.summary()))


def _announce_ready(worker: IngestWorker, ready_file: Path, stop: threading.Event) -> None:
    while not stop.is_set():
        if worker.subscribed.wait(0.2):
            ready_file.write_text("subscribed\n")
            return


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
