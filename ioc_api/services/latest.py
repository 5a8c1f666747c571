"""Keeping ``telemetry_latest`` (newest reading per device and metric) up to date.

Why a sweep and not ingest: the ingest writer's hot path is one binary COPY per batch, and an
upsert of every batch's series would cost it a second round trip and row locks on a shared
table. Instead, once a second, the newest reading of each series written in the last seconds is
folded into ``telemetry_latest`` in one statement, read from the tail of today's chunk (the
BRIN index on time finds it). The price: the table lags ingest by up to a second, and a
device's replay of readings older than :data:`SWEEP_MARGIN` behind the newest reading is not
reflected until that device reports again (its replayed readings are older than its next live
one anyway). The rows the sweep changed are returned, so the live stream sends them on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from psycopg import Connection
from pydantic import BaseModel

from ioc_core.db import fetch_all, fetch_one

# How far behind the previous sweep's newest reading each sweep looks again: a batch that
# committed late (ingest flushes every 0.25 s, a slow one within seconds) is still seen.
SWEEP_MARGIN: Final = timedelta(seconds=30)
# Held (transaction-scoped) by the one process sweeping; others skip and read the table.
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
WITH fresh AS (
    SELECT DISTINCT ON (device_key, metric_id) device_key, metric_id, time, value
    FROM telemetry
    WHERE time > %(since)s AND time <= now() + interval '5 minutes'
    ORDER BY device_key, metric_id, time DESC
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


def _changes(rows: list[tuple[object, ...]]) -> list[LatestChange]:
    keys = ("device_id", "kind", "tenant_id", "commune_code", "metric", "unit", "time", "value")
    return [LatestChange.model_validate(dict(zip(keys, row, strict=True))) for row in rows]


def sweep_latest(conn: Connection, *, since: datetime) -> list[LatestChange]:
    """Fold readings newer than ``since`` into ``telemetry_latest``; the series it moved.

    ``conn`` must be in autocommit mode (each sweep is its own short transaction). When another
    process holds the sweep, the series that moved past ``since`` are read instead, so every
    API process still sees the same changes.
    """
    with conn.transaction():
        locked = fetch_one(conn, "SELECT pg_try_advisory_xact_lock(%s)", (LOCK_KEY,))
        query = _SWEEP if locked and locked[0] else _CHANGED_SINCE
        return _changes(fetch_all(conn, query, {"since": since}))


def rebuild_latest(conn: Connection, *, since: datetime) -> int:
    """Fill ``telemetry_latest`` from scratch for every series with a reading after ``since``
    (start-up after a long stop, benchmarks); returns the rows written."""
    cur = conn.execute(
        """INSERT INTO telemetry_latest AS l (device_key, metric_id, time, value)
           SELECT DISTINCT ON (device_key, metric_id) device_key, metric_id, time, value
           FROM telemetry WHERE time > %s ORDER BY device_key, metric_id, time DESC
           ON CONFLICT (device_key, metric_id) DO UPDATE
           SET time = excluded.time, value = excluded.value WHERE excluded.time > l.time""",
        (since,),
    )
    return cur.rowcount
