"""1-minute and 1-hour rollups of telemetry, kept incrementally behind a watermark.

Apache TimescaleDB has no continuous aggregates, so this module is ours: each refresh recomputes
(a) the buckets from the watermark (minus a safety margin) up to now minus a lag, and (b) every
hour that ingest marked in ``telemetry_touched_hours`` since the last refresh (late data), all in
one transaction with the watermark update. Upserts skip unchanged rows, so a refresh with no new
data writes nothing and running it twice is harmless. An advisory lock makes concurrent runners
take turns instead of racing on the watermark.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from psycopg import Connection
from psycopg.rows import tuple_row

from analytics.rollups_sql import UPSERT_1H, UPSERT_1M
from ioc_core.settings import Settings

STATE_NAME = "telemetry"
# Key of the advisory lock (any fixed bigint): one refresh at a time across all runners.
LOCK_KEY = 0x10C_0001
HOUR = timedelta(hours=1)

Range = tuple[datetime, datetime]


@dataclass
class RefreshResult:
    """What one refresh did, for the CLI's report and the tests."""

    skipped: bool = False  # another runner held the lock
    start: datetime | None = None
    end: datetime | None = None
    late_hours: list[datetime] = field(default_factory=list)
    buckets_1m: int = 0  # rows inserted or changed, not rows merely recomputed
    buckets_1h: int = 0
    caught_up: bool = True  # False when the span cap stopped short of now - lag

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("start", "end"):
            data[key] = data[key].isoformat() if data[key] else None
        data["late_hours"] = [h.isoformat() for h in self.late_hours]
        return data


def refresh(conn: Connection, settings: Settings, *, now: datetime | None = None) -> RefreshResult:
    """One incremental step. ``now`` is for tests; the database clock is used otherwise."""
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        locked = cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (LOCK_KEY,)).fetchone()
        if not (locked and locked[0]):
            return RefreshResult(skipped=True)
        row = cur.execute(
            "SELECT watermark, last_run_at, now() FROM rollup_state WHERE name = %s FOR UPDATE",
            (STATE_NAME,),
        ).fetchone()
        assert row is not None, "rollup_state row missing: run `ioc db migrate`"
        watermark, last_run_at, db_now = row
        margin = timedelta(seconds=settings.rollup_safety_margin_s)
        target = (now or db_now) - timedelta(seconds=settings.rollup_lag_s)
        start = watermark - margin if watermark else _oldest_reading(conn)
        start = min(start or target, target)
        end = min(target, start + timedelta(hours=settings.rollup_max_span_hours))
        late = _late_hours(conn, since=last_run_at - margin if last_run_at else None, before=start)
        ranges = [(start, end), *_merge_hours(late)]
        result = RefreshResult(start=start, end=end, late_hours=late, caught_up=end >= target)
        for lo, hi in ranges:
            result.buckets_1m += cur.execute(UPSERT_1M, {"start": lo, "end": hi}).rowcount
        for lo, hi in ranges:
            result.buckets_1h += cur.execute(UPSERT_1H, {"start": lo, "end": hi}).rowcount
        cur.execute(
            "UPDATE rollup_state SET watermark = %s, last_run_at = %s WHERE name = %s",
            (end, db_now, STATE_NAME),
        )
    return result


def refresh_until_caught_up(
    conn: Connection, settings: Settings, *, now: datetime | None = None
) -> list[RefreshResult]:
    """Refresh in span-sized transactions until the watermark reaches now - lag."""
    results = [refresh(conn, settings, now=now)]
    while not results[-1].caught_up and not results[-1].skipped:
        results.append(refresh(conn, settings, now=now))
    return results


def _oldest_reading(conn: Connection) -> datetime | None:
    """Where a first refresh starts: the oldest reading kept (a one-off scan)."""
    row = conn.execute("SELECT min(time) FROM telemetry").fetchone()
    return row[0] if row else None


def _late_hours(conn: Connection, *, since: datetime | None, before: datetime) -> list[datetime]:
    """Hours behind the refresh range that ingest wrote to since the last run.

    ``since`` is the last run's database time minus the safety margin: a batch whose
    transaction began before that run but committed after it carries an older ``updated_at``.
    """
    if since is None:  # first run: everything up to now is in the main range anyway
        return []
    rows = conn.execute(
        """SELECT hour FROM telemetry_touched_hours
           WHERE updated_at > %s AND hour < time_bucket('1 hour', %s::timestamptz)
           ORDER BY hour""",
        (since, before),
    ).fetchall()
    return [r[0] for r in rows]


def _merge_hours(hours: list[datetime]) -> list[Range]:
    """Consecutive hours as one range: fewer statements for a replayed day of data."""
    ranges: list[Range] = []
    for hour in hours:
        if ranges and ranges[-1][1] == hour:
            ranges[-1] = (ranges[-1][0], hour + HOUR)
        else:
            ranges.append((hour, hour + HOUR))
    return ranges
