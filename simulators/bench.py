"""``ioc bench simulate``: a city-scale fleet at its real rates on a private stack.

Starts a throw-away stack (PostgreSQL + Mosquitto on free ports; ingest too with
``--ingest``), registers the fleet, runs ``ioc simulate``'s engine for ``--seconds`` and prints
the run's figures; the last line is one JSON object (docs/performance.md records it).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from ioc_core.cli.common import fail_cleanly
from ioc_core.stack.temporary import settings_env, temporary_stack


@fail_cleanly
def bench_simulate(
    devices: Annotated[
        int, typer.Option(min=8, help="Fleet size, composed like the city.")
    ] = 100_000,
    seconds: Annotated[float, typer.Option(min=5, help="Wall seconds of publishing.")] = 120.0,
    speed: Annotated[float, typer.Option(min=0.001, help="Simulated s per wall second.")] = 1.0,
    seed: Annotated[int, typer.Option()] = 1,
    ingest: Annotated[
        bool, typer.Option(help="Run ingest, so readings reach the database.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON result.")] = False,
) -> None:
    """Sustain a fleet at its real reporting rates and report achieved vs target msg/s."""
    from simulators.engine import Engine
    from simulators.registration import register_fleet
    from simulators.scenarios import load_scenario, prepare

    if as_json:
        logging.getLogger().setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with temporary_stack() as settings:
        worker = None
        if ingest:
            worker = subprocess.Popen(
                [sys.executable, "-m", "ioc_core.cli.main", "ingest", "run"],
                env=settings_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        try:
            t = time.monotonic()
            sc = load_scenario("standard")
            register_fleet(settings, prepare(sc, seed=seed, devices=devices).fleet)
            registered_s = time.monotonic() - t
            now = datetime.now(UTC).replace(microsecond=0)
            start = now - timedelta(seconds=seconds * (speed - 1))
            prepared = prepare(sc, seed=seed, start=start, devices=devices)
            fleet = prepared.fleet
            engine = Engine(
                settings, fleet, prepared.world, sim_start=start, speed=speed,
                sim_end=start + timedelta(seconds=seconds * speed), progress=not as_json,
                seed=seed,
            )  # fmt: skip
            stats = engine.run()
        finally:
            if worker is not None:
                worker.send_signal(signal.SIGINT)
                worker.wait(30)
    result = stats.as_json() | {
        "register_s": round(registered_s, 1),
        "ratio": round(stats.achieved_msgs_per_s / stats.target_msgs_per_s, 4),
        "cpu_count": os.cpu_count(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }
    if not as_json:
        for key, value in result.items():
            typer.echo(f"{key:>22}: {value}")
    typer.echo(json.dumps(result))
