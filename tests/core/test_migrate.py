"""Migrations: applied once, recorded, guarded against edits; the schema they leave."""

import pytest

from ioc_core.errors import MigrationError
from ioc_core.migrate import available, current_version, migrate
from ioc_core.plugins import migrate_and_sync


def test_migrating_an_up_to_date_database_changes_nothing(conn):
    assert current_version(conn) == available()[-1].version
    assert migrate(conn) == []
    applied, synced = migrate_and_sync(conn)
    assert applied == [] and synced == ["10_communes", "20_metrics", "30_thresholds"]
    assert conn.execute("SELECT count(*) FROM communes").fetchone()[0] == 114


def test_an_applied_migration_edited_afterwards_is_refused(conn):
    conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(MigrationError, match=r"0001_initial\.sql was edited"):
        migrate(conn)


def test_telemetry_is_a_hypertable_with_its_identity_index(conn):
    row = conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables").fetchall()
    assert ("telemetry",) in row
    indexes = {
        r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename='telemetry'")
    }
    assert "telemetry_identity_idx" in indexes


def test_reading_identity_is_unique(conn):
    metric_id = conn.execute(
        "SELECT id FROM metrics WHERE kind='air_quality_station' AND name='pm25'"
    ).fetchone()[0]
    row = ("2026-11-26T10:00:00+07", 4242, metric_id, 12.5)
    conn.execute("INSERT INTO telemetry VALUES (%s, %s, %s, %s)", row)
    import psycopg

    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO telemetry VALUES (%s, %s, %s, %s)", row)


def test_metric_catalogue_mirrors_the_profiles(conn):
    from devices.profiles import load_profiles

    profiles = load_profiles()
    rows = conn.execute("SELECT kind, name, unit FROM metrics").fetchall()
    expected = {(k, m.name, m.unit) for k, p in profiles.items() for m in p.metrics}
    assert set(rows) == expected
