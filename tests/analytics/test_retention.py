"""Retention: only what is older than each table's setting goes; a dry run changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from analytics.cli import app
from analytics.retention import apply_retention
from analytics.rollups import refresh_until_caught_up as refresh
from ioc_core.settings import Settings

NOW = datetime.now(UTC)
OLD, RECENT = NOW - timedelta(days=100), NOW - timedelta(days=1)


def seed(conn: psycopg.Connection) -> None:
    for t in (OLD, RECENT):
        conn.execute(
            "INSERT INTO telemetry (time, device_key, metric_id, value) VALUES (%s, 1, 1, 1.0)",
            (t,),
        )
        conn.execute(
            """INSERT INTO dead_letters (received_at, topic, reason, detail, payload)
               VALUES (%s, 't', 'r', 'd', '\\x00')""",
            (t,),
        )


def times(conn: psycopg.Connection, query: str) -> list[datetime]:
    return [r[0] for r in conn.execute(query).fetchall()]


def test_drops_only_old_chunks_and_rows(conn: psycopg.Connection, db_settings: Settings) -> None:
    seed(conn)
    refresh(conn, db_settings)  # the watermark guard must not hold back a caught-up rollup
    report = apply_retention(conn, db_settings.model_copy(update={"retention_delete_batch": 1}))
    assert len(report.chunks["telemetry"]) == 1
    assert report.rows["dead_letters"] == 1
    assert times(conn, "SELECT time FROM telemetry") == [RECENT]
    assert times(conn, "SELECT received_at FROM dead_letters") == [RECENT]
    # The rollups keep their 100-day-old buckets (365 days / 10 years by default).
    assert conn.execute("SELECT count(*) FROM telemetry_1m").fetchone() == (2,)


def test_dry_run_changes_nothing(conn: psycopg.Connection, db_settings: Settings) -> None:
    seed(conn)
    refresh(conn, db_settings)
    report = apply_retention(conn, db_settings, dry_run=True)
    assert len(report.chunks["telemetry"]) == 1 and report.rows["dead_letters"] == 1
    assert conn.execute("SELECT count(*) FROM telemetry").fetchone() == (2,)
    assert conn.execute("SELECT count(*) FROM dead_letters").fetchone() == (2,)


def test_unrolled_telemetry_is_kept(conn: psycopg.Connection, db_settings: Settings) -> None:
    """With the rollup watermark still 100+ days back, raw readings past it are not dropped."""
    seed(conn)
    conn.execute("UPDATE rollup_state SET watermark = %s", (OLD - timedelta(days=2),))
    report = apply_retention(conn, db_settings)
    assert report.chunks["telemetry"] == []
    assert conn.execute("SELECT count(*) FROM telemetry").fetchone() == (2,)


def test_none_keeps_forever(conn: psycopg.Connection, db_settings: Settings) -> None:
    seed(conn)
    refresh(conn, db_settings)
    keep = db_settings.model_copy(update={"retention_telemetry_days": None})
    report = apply_retention(conn, keep)
    assert "telemetry" not in report.chunks
    assert conn.execute("SELECT count(*) FROM telemetry").fetchone() == (2,)


def test_cli_rollup_and_retention_report(conn: psycopg.Connection, db_settings: Settings,
                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    seed(conn)
    monkeypatch.setenv("IOC_POSTGRES_DSN", db_settings.postgres_dsn)
    rolled = CliRunner().invoke(app, ["rollup", "--json"])
    assert rolled.exit_code == 0, rolled.output
    assert json.loads(rolled.output)["buckets_1m"] == 2
    dry = CliRunner().invoke(app, ["retention", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert len(json.loads(dry.output)["chunks"]["telemetry"]) == 1
    assert conn.execute("SELECT count(*) FROM telemetry").fetchone() == (2,)
    done = CliRunner().invoke(app, ["retention"])
    assert "telemetry: dropped 1 chunks" in done.output
