"""The batch writer's binary COPY, built with numpy, against the real database: every value,
timestamp and key stored exactly, on the direct path and on the duplicate-tolerant one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from devices.readings_stream import to_records
from ingest.writer import BatchMeta, BatchWriter

pytestmark = pytest.mark.db


def _key_and_metrics(conn: psycopg.Connection, station) -> tuple[int, list[int]]:
    key = conn.execute("SELECT key FROM devices WHERE id = %s", (station.id,)).fetchone()[0]
    metrics = [r[0] for r in conn.execute("SELECT id FROM metrics ORDER BY id DESC LIMIT 3")]
    return key, metrics


def test_rows_are_stored_exactly(db_settings, conn, station):
    key, (m1, m2, m3) = _key_and_metrics(conn, station)
    t0 = datetime.now(UTC).replace(microsecond=654_321) - timedelta(hours=30)
    rows = [
        (t0, key, m1, 35.5),
        (t0, key, m2, -0.1),
        (t0, key, m3, 1e300),
        (t0 + timedelta(microseconds=1), key, m1, 5e-324),  # the smallest subnormal
        (datetime(2000, 1, 1, tzinfo=UTC) - timedelta(microseconds=1), key, m1, 0.0),
        (t0 + timedelta(days=1), key, m2, 123456.789),
    ]
    meta = BatchMeta(newest={key: rows[-1][0]}, hours={})
    writer = BatchWriter(psycopg.connect(db_settings.postgres_dsn))
    try:
        result = writer.write(to_records(rows), [], meta)
        assert (result.readings, result.inserted, result.staged) == (6, 6, False)
        stored = conn.execute(
            "SELECT time, device_key, metric_id, value FROM telemetry ORDER BY time, metric_id"
        ).fetchall()
        assert stored == sorted(rows, key=lambda r: (r[0], r[2]))
        # Again with one new row: the duplicates take the staged path, and the new one lands.
        again = [*rows, (t0 + timedelta(seconds=1), key, m1, 42.0)]
        result = writer.write(to_records(again), [], meta)
        assert (result.inserted, result.conflicts, result.staged) == (1, 0, True)
        assert conn.execute("SELECT value FROM telemetry WHERE value = 42").fetchone() == (42.0,)
        assert conn.execute("SELECT count(*) FROM telemetry").fetchone() == (7,)
    finally:
        writer.conn.close()
