"""The ingest benchmark's latency phase on its own: one worker, 10,000 msg/s offered.

``python scripts/ingest_latency_phase.py true|false [seconds]`` (readings stream on or off).
Prints one JSON object. Used in docs/performance.md ("Alerts, fourth pass") to show that
ingest alone no longer kept up with 10,000 msg/s on the day's machine, with or without the
readings stream, and with the code from before it (run with PYTHONPATH at that checkout).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psycopg

from ingest.bench.run import BenchConfig, _ingest_phase, _register
from ioc_core.stack.temporary import temporary_stack


def main() -> None:
    os.environ["IOC_INGEST_PUBLISH_READINGS"] = sys.argv[1] if len(sys.argv) > 1 else "true"
    cfg = BenchConfig(seconds=float(sys.argv[2]) if len(sys.argv) > 2 else 20)
    stats_dir = Path(os.environ.get("IOC_BENCH_DIR", "/var/tmp")) / "ioc-latency-phase"
    stats_dir.mkdir(parents=True, exist_ok=True)
    with temporary_stack() as s:
        ids = _register(s, 2000)
        pool = ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("spawn"))
        with pool, psycopg.connect(s.postgres_dsn, autocommit=True) as conn:
            r = _ingest_phase(s, conn, ids, cfg, pool, rate=10_000, tag="lat", stats_dir=stats_dir)
    keys = ("p50_ms", "p99_ms", "msgs_per_s", "lost")
    print(json.dumps({k: r[k] for k in keys} | {"load_average": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
