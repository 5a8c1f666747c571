"""A/B of ingest's freshness UPDATE (2,000 devices a batch) at devices fillfactor 100 and 70.

Why migration 0015 sets fillfactor 70: one private stack, the same batches (15,000 readings of
2,000 stations) written by ingest's own BatchWriter, ``VACUUM FULL devices`` between settings
so each starts from freshly packed pages. Prints one JSON object: median milliseconds per
batch of the COPY and of the freshness UPDATE, per setting, in the order run.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg

from analytics.alerts.bench import _setup
from devices.readings_stream import to_records
from ingest.writer import BatchMeta, BatchWriter
from ioc_core.stack.temporary import temporary_stack


def main() -> None:
    results = []
    with temporary_stack() as s:
        _setup(s, 2000)
        with psycopg.connect(s.postgres_dsn) as conn:
            keys = [r[0] for r in conn.execute("SELECT key FROM devices").fetchall()]
            metric_ids = [r[0] for r in conn.execute("SELECT id FROM metrics LIMIT 6").fetchall()]
        writer = BatchWriter(psycopg.connect(s.postgres_dsn))
        t0 = datetime.now(UTC) - timedelta(minutes=50)
        n = 0
        for fillfactor in (100, 70, 100, 70):
            with psycopg.connect(s.postgres_dsn, autocommit=True) as c:
                c.execute(f"ALTER TABLE devices SET (fillfactor = {fillfactor})")
                c.execute("VACUUM FULL devices")
            freshness, copy = [], []
            for _ in range(10):
                n += 1
                rows, newest = [], {}
                for i in range(2500):
                    ts = t0 + timedelta(seconds=n, microseconds=i * 100)
                    key = keys[i % len(keys)]
                    newest[key] = ts
                    rows += [(ts, key, m, random.random() * 100) for m in metric_ids]
                hours = {t0.replace(minute=0, second=0, microsecond=0): len(rows)}
                began = time.perf_counter()
                with writer.conn.transaction():
                    with writer.conn.transaction():
                        writer._copy("telemetry", to_records(rows))
                    copied = time.perf_counter()
                    writer._record_freshness(BatchMeta(newest=dict(sorted(newest.items())),
                                                       hours=hours))  # fmt: skip
                    freshness.append(time.perf_counter() - copied)
                copy.append(copied - began)
            results.append({
                "fillfactor": fillfactor,
                "freshness_ms": round(1000 * statistics.median(freshness), 1),
                "copy_ms": round(1000 * statistics.median(copy), 1),
            })  # fmt: skip
    print(json.dumps({"runs": results, "load_average": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
