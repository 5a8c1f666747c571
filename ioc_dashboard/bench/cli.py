"""``ioc bench wall``: the command whose JSON docs/performance.md and docs/wall.md record."""

from __future__ import annotations

import json
import logging
import signal

import typer

from ioc_core.cli.common import fail_cleanly
from ioc_dashboard.bench.run import WallBenchConfig, run_wall_benchmark

SUMMARY_KEYS = (
    "devices", "import_s", "first_paint_ms", "first_contentful_paint_ms", "map_drawn_ms",
    "refresh_interval_ms_median", "refresh_interval_ms_max", "longest_task_ms",
    "long_tasks_over_1s", "wall_map_ms_p50", "wall_map_kb", "all_devices_kb",
)  # fmt: skip


@fail_cleanly
def bench_wall(
    devices: int = typer.Option(20_000, min=1, help="Devices registered through the CSV import."),
    seconds: float = typer.Option(20.0, min=5, help="Time the live refresh is watched."),
    refresh_ms: int = typer.Option(3000, min=1000, help="The wall's refresh period."),
    width: int = typer.Option(1920, help="Viewport width (3840 for a 4K wall)."),
    height: int = typer.Option(1080, help="Viewport height."),
    seed: int = typer.Option(1, help="Fleet placement and alert seed."),
    as_json: bool = typer.Option(False, "--json", help="Print only the JSON result."),
) -> None:
    """Register a city-sized fleet in a private stack, serve API and wall, and measure the
    wall in headless Chromium: paint times, refresh period, longest main-thread task.

    The last line printed is one JSON object.
    """
    if as_json:
        logging.getLogger().setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up the stack on TERM
    result = run_wall_benchmark(WallBenchConfig(
        devices=devices, seconds=seconds, refresh_ms=refresh_ms, seed=seed,
        viewport=(width, height),
    ))  # fmt: skip
    if not as_json:
        for key in SUMMARY_KEYS:
            typer.echo(f"{key:28} {result[key]}")
    typer.echo(json.dumps(result))
