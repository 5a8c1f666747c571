"""Rollups: correct aggregates, incremental by watermark, late data folded in, idempotent."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics.cli import run_scheduler
from analytics.rollups import refresh, refresh_until_caught_up
from analytics.rollups_series import series_bucketed
from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ioc_core.settings import Settings

DEV, METRIC = 7, 3
# A whole hour in the past, well before now - lag, so every bucket in it is final.
HOUR = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)


def insert(conn: psycopg.Connection, rows: list[tuple[datetime, float]], *, dev: int = DEV,
           metric: int = METRIC) -> None:  # fmt: skip
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO telemetry (time, device_key, metric_id, value) VALUES (%s, %s, %s, %s)",
            [(t, dev, metric, v) for t, v in rows],
        )


def touch(conn: psycopg.Connection, hour: datetime) -> None:
    """What ingest does per batch: mark the hour written to, with the database clock."""
    conn.execute(
        """INSERT INTO telemetry_touched_hours (hour, readings) VALUES (%s, 1)
           ON CONFLICT (hour) DO UPDATE SET readings = telemetry_touched_hours.readings + 1,
                                            updated_at = now()""",
        (hour,),
    )


def bucket(conn: psycopg.Connection, table: str, at: datetime) -> tuple | None:
    return conn.execute(
        f"SELECT min, max, mean, count, last, last_time FROM {table} "
        "WHERE device_key = %s AND metric_id = %s AND bucket = %s",
        (DEV, METRIC, at),
    ).fetchone()


def snapshot(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT 'm', * FROM telemetry_1m UNION ALL SELECT 'h', * FROM telemetry_1h ORDER BY 1, 2"
    ).fetchall()


@pytest.fixture
def filled(conn: psycopg.Connection) -> psycopg.Connection:
    # Minute 0: three readings, the latest (by time, not insertion order) is 2.0.
    # Minute 1: one reading. Another series in minute 0 must not mix in.
    m0, m1 = HOUR, HOUR + timedelta(minutes=1)
    insert(conn, [(m0 + timedelta(seconds=40), 2.0), (m0, 10.0), (m0 + timedelta(seconds=20), 6.0)])
    insert(conn, [(m1 + timedelta(seconds=5), 4.0)])
    insert(conn, [(m0, 99.0)], dev=DEV + 1)
    touch(conn, HOUR)
    return conn


def test_1m_and_1h_aggregates(filled: psycopg.Connection, db_settings: Settings) -> None:
    result = refresh(filled, db_settings)
    assert (result.buckets_1m, result.buckets_1h) == (3, 2)
    assert bucket(filled, "telemetry_1m", HOUR) == (
        2.0, 10.0, 6.0, 3, 2.0, HOUR + timedelta(seconds=40))  # fmt: skip
    assert bucket(filled, "telemetry_1m", HOUR + timedelta(minutes=1))[3:5] == (1, 4.0)
    # The hour re-aggregates its minutes exactly: mean over 4 readings, last from minute 1.
    assert bucket(filled, "telemetry_1h", HOUR) == (
        2.0, 10.0, 5.5, 4, 4.0, HOUR + timedelta(minutes=1, seconds=5))  # fmt: skip


def test_second_run_without_new_data_writes_nothing(
    filled: psycopg.Connection, db_settings: Settings
) -> None:
    first = refresh(filled, db_settings)
    before = snapshot(filled)
    second = refresh(filled, db_settings)
    assert (second.buckets_1m, second.buckets_1h) == (0, 0)
    assert second.start is not None and first.end is not None and second.start < first.end
    assert snapshot(filled) == before


def test_late_reading_updates_old_bucket(filled: psycopg.Connection, db_settings: Settings) -> None:
    old_hour = HOUR - timedelta(days=3)
    insert(filled, [(old_hour + timedelta(minutes=5), 1.0)])
    touch(filled, old_hour)
    refresh(filled, db_settings)
    assert bucket(filled, "telemetry_1h", old_hour)[3] == 1
    # Three days late, behind the watermark: only telemetry_touched_hours can reveal it.
    insert(filled, [(old_hour + timedelta(minutes=5, seconds=30), 9.0)])
    touch(filled, old_hour)
    result = refresh(filled, db_settings)
    assert result.late_hours == [old_hour]
    assert (result.buckets_1m, result.buckets_1h) == (1, 1)
    assert bucket(filled, "telemetry_1m", old_hour + timedelta(minutes=5))[:5] == (
        1.0, 9.0, 5.0, 2, 9.0)  # fmt: skip
    assert bucket(filled, "telemetry_1h", old_hour)[3:5] == (2, 9.0)


def test_idempotent_from_scratch(filled: psycopg.Connection, db_settings: Settings) -> None:
    refresh(filled, db_settings)
    expected = snapshot(filled)
    filled.execute("TRUNCATE telemetry_1m, telemetry_1h")
    filled.execute("UPDATE rollup_state SET watermark = NULL, last_run_at = NULL")
    refresh(filled, db_settings)
    refresh(filled, db_settings)
    assert snapshot(filled) == expected


def test_span_cap_steps_through_a_backlog(
    filled: psycopg.Connection, db_settings: Settings
) -> None:
    insert(filled, [(HOUR - timedelta(days=2), 1.0)])
    capped = db_settings.model_copy(update={"rollup_max_span_hours": 12})
    results = refresh_until_caught_up(filled, capped)
    assert len(results) >= 4 and results[-1].caught_up
    assert sum(r.buckets_1m for r in results) == 4


def test_concurrent_refresh_is_skipped(filled: psycopg.Connection, db_settings: Settings) -> None:
    with psycopg.connect(db_settings.postgres_dsn) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s)", (0x10C_0001,))
        assert refresh(filled, db_settings).skipped
    assert not refresh(filled, db_settings).skipped


def test_series_bucketed_reads_rollups(conn: psycopg.Connection, db_settings: Settings,
                                       tenant: str) -> None:  # fmt: skip
    ensure_tenant(conn, tenant, "Test tenant")
    upsert_device(conn, DeviceIn(id="aq-001", kind="air_quality_station", tenant_id=tenant))
    key, metric_id, name = conn.execute(
        """SELECT d.key, m.id, m.name FROM devices d JOIN metrics m ON m.kind = d.kind
           WHERE d.id = 'aq-001' ORDER BY m.id LIMIT 1"""
    ).fetchone()
    insert(conn, [(HOUR, 1.0), (HOUR + timedelta(seconds=30), 3.0)], dev=key, metric=metric_id)
    refresh(conn, db_settings)
    by_id = series_bucketed(conn, device_id="aq-001", metric=name, bucket="1m")
    by_key = series_bucketed(conn, device_key=key, metric=name, bucket="1h", since=HOUR)
    assert [(p.bucket, p.mean, p.count, p.last) for p in by_id] == [(HOUR, 2.0, 2, 3.0)]
    assert [(p.bucket, p.min, p.max) for p in by_key] == [(HOUR, 1.0, 3.0)]
    assert series_bucketed(conn, device_id="aq-001", metric=name, until=HOUR) == []


def test_scheduler_refreshes_and_stops(filled: psycopg.Connection, db_settings: Settings) -> None:
    """`ioc analytics run`'s loop: refreshes at once, applies retention, stops on the event."""
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(db_settings, stop), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while filled.execute("SELECT count(*) FROM telemetry_1h").fetchone() != (2,):
        assert time.monotonic() < deadline, "the scheduler did not refresh"
        time.sleep(0.1)
    stop.set()
    thread.join(timeout=15)
    assert not thread.is_alive()
