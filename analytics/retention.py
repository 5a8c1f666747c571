"""Retention without TimescaleDB's retention policies (not in the Apache edition).

Hypertables lose whole chunks via ``drop_chunks`` (instant, no dead tuples); plain tables are
trimmed by ``DELETE`` in small batches so no single statement holds locks or writes WAL for
long. Raw telemetry is never dropped past the rollup watermark, so readings that have not been
rolled up yet survive even a retention shorter than the rollup backlog.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from psycopg import Connection, sql
from psycopg.rows import tuple_row

from analytics.rollups import STATE_NAME
from ioc_core.settings import Settings

LOCK_KEY = 0x10C_0002  # one retention pass at a time


@dataclass
class RetentionReport:
    dry_run: bool
    skipped: bool = False
    chunks: dict[str, list[str]] = field(default_factory=dict)  # table -> chunks (to be) dropped
    rows: dict[str, int] = field(default_factory=dict)  # plain table -> rows (to be) deleted

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _hypertables(settings: Settings) -> dict[str, int | None]:
    return {
        "telemetry": settings.retention_telemetry_days,
        "telemetry_1m": settings.retention_telemetry_1m_days,
        "telemetry_1h": settings.retention_telemetry_1h_days,
    }


def _plain_tables(settings: Settings) -> dict[str, tuple[str, int | None]]:
    """Table -> (time column, days)."""
    return {
        "dead_letters": ("received_at", settings.retention_dead_letters_days),
        "telemetry_touched_hours": ("hour", settings.retention_touched_hours_days),
    }


def apply_retention(
    conn: Connection, settings: Settings, *, dry_run: bool = False, now: datetime | None = None
) -> RetentionReport:
    """Drop or delete what is older than each table's retention; report what (would be) gone."""
    report = RetentionReport(dry_run=dry_run)
    with conn.cursor(row_factory=tuple_row) as cur:
        got = cur.execute("SELECT pg_try_advisory_lock(%s), now()", (LOCK_KEY,)).fetchone()
        assert got is not None
        if not got[0]:
            report.skipped = True
            return report
        clock = now or got[1]
        try:
            for table, days in _hypertables(settings).items():
                if days is not None:
                    cutoff = _guard_unrolled(conn, table, clock - timedelta(days=days))
                    report.chunks[table] = _drop_chunks(conn, table, cutoff, dry_run=dry_run)
            for table, (column, days) in _plain_tables(settings).items():
                if days is not None:
                    cutoff = clock - timedelta(days=days)
                    report.rows[table] = _delete_older(
                        conn, table, column, cutoff, settings.retention_delete_batch, dry_run
                    )
        finally:
            cur.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return report


def _guard_unrolled(conn: Connection, table: str, cutoff: datetime) -> datetime:
    """Raw telemetry is kept at least back to the rollup watermark."""
    if table != "telemetry":
        return cutoff
    row = conn.execute(
        "SELECT watermark FROM rollup_state WHERE name = %s", (STATE_NAME,)
    ).fetchone()
    watermark = row[0] if row else None
    return min(cutoff, watermark) if watermark else cutoff


def _drop_chunks(conn: Connection, table: str, cutoff: datetime, *, dry_run: bool) -> list[str]:
    func = "show_chunks" if dry_run else "drop_chunks"
    query = sql.SQL("SELECT {}({}, older_than => %s)::text").format(
        sql.Identifier(func), sql.Literal(table)
    )
    with conn.transaction():
        return [r[0] for r in conn.execute(query, (cutoff,)).fetchall()]


def _delete_older(
    conn: Connection, table: str, column: str, cutoff: datetime, batch: int, dry_run: bool
) -> int:
    """Delete in batches by ctid, each its own transaction; a dry run only counts."""
    where = sql.SQL("{} < %s").format(sql.Identifier(column))
    if dry_run:
        count = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(sql.Identifier(table), where)
        row = conn.execute(count, (cutoff,)).fetchone()
        return int(row[0]) if row else 0
    delete = sql.SQL(
        "DELETE FROM {t} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {t} WHERE {w} LIMIT %s))"
    ).format(t=sql.Identifier(table), w=where)
    total = 0
    while True:
        with conn.transaction():
            deleted = conn.execute(delete, (cutoff, batch)).rowcount
        total += deleted
        if deleted < batch:
            return total
