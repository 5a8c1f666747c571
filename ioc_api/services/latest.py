"""Keeping ``telemetry_latest`` (newest reading per device and metric) up to date.

Why a sweep and not ingest: the ingest writer's hot path is one binary COPY per batch, and an
upsert of every batch's series would cost it a second statement and row locks on a shared
table. Ingest already records, per batch, each device's newest reading time in
``devices.last_seen``. Once a second the sweep picks the devices whose ``last_seen`` moved past
what it last synced (``telemetry_latest_sync``), reads each of their series' newest reading
through the identity index (one probe per series, bounded in time so that only the last
chunk or two are searched: from an hour before the previous sync, or ingest's 7-day window on a
device's first sync, up to its ``last_seen`` plus the 5 minutes a clock may run ahead), and
upserts them. The work is proportional
to the devices that reported since the last sweep, not to the ingest rate, and a device whose
readings arrive late (store and forward, a slow link) is caught like any other: its
``last_seen`` moves when they land. The table lags ingest by about a second.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from psycopg import Connection
from pydantic import BaseModel

from ioc_core.db import fetch_all, fetch_one

# Held (transaction-scoped) by the one process sweeping; others skip and read what moved.
LOCK_KEY: Final = 0x10C_0014


class LatestChange(BaseModel):
    device_id: str
    kind: str
    tenant_id: str
    commune_code: str | None
    metric: str
    unit: str
    time: datetime
    value: float


_SWEEP = """
WITH moved AS (
    SELECT d.key, d.kind, d.last_seen, s.last_seen AS synced FROM devices d
    LEFT JOIN telemetry_latest_sync s ON s.device_key = d.key
    WHERE d.last_seen IS NOT NULL AND (s.last_seen IS NULL OR d.last_seen > s.last_seen)
    ORDER BY d.key
    LIMIT %(batch)s
), fresh AS (
    SELECT mv.key AS device_key, m.id AS metric_id, x.time, x.value
    FROM moved mv JOIN metrics m ON m.kind = mv.kind
    CROSS JOIN LATERAL (
        SELECT t.time, t.value FROM telemetry t
        WHERE t.device_key = mv.key AND t.metric_id = m.id
          AND t.time > coalesce(mv.synced, mv.last_seen - interval '7 days') - interval '1 hour'
          AND t.time <= mv.last_seen + interval '5 minutes'
        ORDER BY t.time DESC LIMIT 1) x
), synced AS (
    INSERT INTO telemetry_latest_sync AS s (device_key, last_seen)
    SELECT key, last_seen FROM moved
    ON CONFLICT (device_key) DO UPDATE SET last_seen = excluded.last_seen
), changed AS (
    INSERT INTO telemetry_latest AS l (device_key, metric_id, time, value)
    SELECT device_key, metric_id, time, value FROM fresh
    ON CONFLICT (device_key, metric_id) DO UPDATE SET time = excluded.time, value = excluded.value
    WHERE excluded.time > l.time
    RETURNING l.device_key, l.metric_id, l.time, l.value
)
SELECT d.id, d.kind, d.tenant_id, d.commune_code, m.name, m.unit, c.time, c.value
FROM changed c JOIN devices d ON d.key = c.device_key JOIN metrics m ON m.id = c.metric_id
"""

_CHANGED_SINCE = """
SELECT d.id, d.kind, d.tenant_id, d.commune_code, m.name, m.unit, l.time, l.value
FROM telemetry_latest l JOIN devices d ON d.key = l.device_key JOIN metrics m ON m.id = l.metric_id
WHERE l.time > %(since)s
"""

# Devices per sweep at most: after a long stop (or the first start on a full database) the
# backlog is worked off a slice a second instead of in one long statement.
SWEEP_BATCH: Final = 5_000


def _changes(rows: list[tuple[object, ...]]) -> list[LatestChange]:
    keys = ("device_id", "kind", "tenant_id", "commune_code", "metric", "unit", "time", "value")
    return [LatestChange.model_validate(dict(zip(keys, row, strict=True))) for row in rows]


def sweep_latest(conn: Connection, *, since: datetime) -> list[LatestChange]:
    """Fold the newest readings of devices that reported into ``telemetry_latest``; the
    series it moved.

    ``conn`` must be in autocommit mode (each sweep is its own short transaction). When another
    process holds the sweep, the series whose newest reading is after ``since`` are read
    instead, so every API process can still tell its live clients what moved.
    """
    with conn.transaction():
        locked = fetch_one(conn, "SELECT pg_try_advisory_xact_lock(%s)", (LOCK_KEY,))
        if locked and locked[0]:
            return _changes(fetch_all(conn, _SWEEP, {"batch": SWEEP_BATCH}))
        return _changes(fetch_all(conn, _CHANGED_SINCE, {"since": since}))


def rebuild_latest(conn: Connection, *, since: datetime) -> int:
    """Fill ``telemetry_latest`` in one pass for every series with a reading after ``since``
    (bulk loads, benchmarks); returns the rows written. The sweep then resyncs each device
    once, finding nothing newer."""
    cur = conn.execute(
        """INSERT INTO telemetry_latest AS l (device_key, metric_id, time, value)
           SELECT DISTINCT ON (device_key, metric_id) device_key, metric_id, time, value
           FROM telemetry WHERE time > %s ORDER BY device_key, metric_id, time DESC
           ON CONFLICT (device_key, metric_id) DO UPDATE
           SET time = excluded.time, value = excluded.value WHERE excluded.time > l.time""",
        (since,),
    )
    return cur.rowcount
