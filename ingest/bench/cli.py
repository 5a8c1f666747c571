"""``ioc bench ingest``: the benchmark command whose JSON docs/performance.md records."""

from __future__ import annotations

import json
import logging
import signal

import typer

from ingest.bench.run import BenchConfig, run_benchmark
from ioc_core.cli.common import fail_cleanly

SUMMARY_KEYS = (
    "msgs_per_s", "points_per_s", "broker_only_msgs_per_s", "naive_msgs_per_s",
    "p50_ms", "p99_ms", "published", "stored_msgs", "lost", "duplicated",
)  # fmt: skip


@fail_cleanly
def bench_ingest(
    seconds: float = typer.Option(30.0, min=1, help="Publishing time of each phase."),
    devices: int = typer.Option(2_000, min=1, help="Simulated air-quality stations."),
    publishers: int = typer.Option(1, min=1, help="Load-generator processes."),
    workers: int = typer.Option(
        2, min=1, help="Ingest worker processes (shared subscription); 2 fit a 2-core machine."
    ),
    rate: float | None = typer.Option(None, help="Offered msg/s of the throughput phases."),
    latency_rate: float = typer.Option(10_000, help="Offered msg/s of the latency phase."),
    as_json: bool = typer.Option(False, "--json", help="Print only the JSON result."),
) -> None:
    """Measure publish -> broker -> ingest -> TimescaleDB on this machine, with baselines.

    Starts a private stack of its own on free ports and removes it afterwards. The last line
    printed is one JSON object.
    """
    if as_json:
        logging.getLogger().setLevel(logging.WARNING)
    # SIGTERM (a timeout, a CI limit) must still run the clean-up that stops the private
    # stack; Python only does that for KeyboardInterrupt by default.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    cfg = BenchConfig(
        seconds=seconds, devices=devices, publishers=publishers, workers=workers,
        latency_rate=latency_rate, rate=rate,
    )  # fmt: skip
    result = run_benchmark(cfg)
    if not as_json:
        for key in SUMMARY_KEYS:
            typer.echo(f"{key:24} {result[key]}")
    typer.echo(json.dumps(result))
