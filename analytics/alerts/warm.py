"""Warm start: the engine's state rebuilt from the database instead of from an empty memory.

Live alerts become detector state (so a condition that cleared while the engine was down is
resolved on the first reading); the last 24 hours' hourly means come from ``telemetry_1h`` and
the current hour's partial sum from ``telemetry_1m`` (docs/rollups.md), so a 24 h mean rule is
judged from the first hour after a restart. Minutes not yet rolled up when the engine starts
are missing from the current hour's mean; the rollups lag by at most a minute or two.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from psycopg import Connection
from psycopg.rows import tuple_row

from analytics.alerts.connectivity import ConnectivityDetector
from analytics.alerts.thresholds import ThresholdDetector
from analytics.alerts.windows import HOUR, hour_of
from analytics.thresholds import Severity

__all__ = ["restore_live_alerts", "warm_hourly_means"]

_LIVE_THRESHOLDS = """SELECT rule_id, device_id, severity FROM alerts
    WHERE kind = 'threshold' AND rule_id IS NOT NULL AND state IN ('open', 'acknowledged')"""
_LIVE_CONNECTIVITY = """SELECT device_id, coalesce(event_time, opened_at) FROM alerts
    WHERE kind = 'connectivity' AND state IN ('open', 'acknowledged')
      AND device_id IS NOT NULL"""

_ROLLUP = """
SELECT d.id, m.name, r.bucket, r.sum, r.count
FROM {table} r JOIN devices d ON d.key = r.device_key JOIN metrics m ON m.id = r.metric_id
WHERE r.bucket >= %(since)s AND r.bucket < %(until)s AND (d.kind, m.name) IN
      (SELECT * FROM unnest(%(kinds)s::text[], %(metrics)s::text[]))
ORDER BY r.bucket"""


def restore_live_alerts(
    conn: Connection, thresholds: ThresholdDetector, connectivity: ConnectivityDetector
) -> int:
    with conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(_LIVE_THRESHOLDS).fetchall()
        for rule_id, device_id, severity in rows:
            thresholds.restore(rule_id, device_id, Severity(severity))
        down = cur.execute(_LIVE_CONNECTIVITY).fetchall()
        for device_id, since in down:
            connectivity.restore(device_id, since)
    return len(rows) + len(down)


def warm_hourly_means(conn: Connection, thresholds: ThresholdDetector, now: datetime) -> int:
    """Seed the hourly means of every series a windowed rule reads; returns hours seeded."""
    pairs = sorted({(r.kind, r.metric) for r in thresholds.rules() if r.window != "instant"})
    if not pairs:
        return 0
    current = hour_of(now)
    params = {"kinds": [k for k, _ in pairs], "metrics": [m for _, m in pairs]}
    seeded = 0
    with conn.cursor(row_factory=tuple_row) as cur:
        hours = cur.execute(
            _ROLLUP.format(table="telemetry_1h"),
            {**params, "since": current - 24 * HOUR, "until": current},
        ).fetchall()
        for device_id, metric, bucket, total, count in hours:
            thresholds.series(device_id, metric).seed(bucket, total / count)
            seeded += 1
        minutes = cur.execute(
            _ROLLUP.format(table="telemetry_1m"),
            {**params, "since": current, "until": current + timedelta(hours=1)},
        ).fetchall()
    partial: dict[tuple[str, str], tuple[float, int]] = {}
    for device_id, metric, _bucket, total, count in minutes:
        s, c = partial.get((device_id, metric), (0.0, 0))
        partial[(device_id, metric)] = (s + total, c + count)
    for (device_id, metric), (total, count) in partial.items():
        thresholds.series(device_id, metric).seed_current(current, total, count)
    return seeded
