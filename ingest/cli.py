"""``ioc ingest``: run the MQTT -> TimescaleDB worker."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from ingest.worker import IngestWorker
from ioc_core.cli.common import fail_cleanly, settings_from_env

app = typer.Typer(no_args_is_help=True, help="MQTT telemetry into TimescaleDB.")


@app.command("run")
@fail_cleanly
def run() -> None:
    """Consume telemetry until SIGINT/SIGTERM, then flush, acknowledge and exit."""
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    IngestWorker(settings_from_env()).run(stop)
