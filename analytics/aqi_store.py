"""VN_AQI per station stored as a time series: ``aqi_hourly`` and ``aqi_daily``.

The rules live in :mod:`analytics.aqi` (pure functions); this module only feeds them the hourly
means of ``telemetry_1h`` and writes what they return. :func:`compute_aqi` recomputes a range of
hours and the days containing them, idempotently; :func:`refresh_aqi` is the incremental step
``ioc analytics run`` calls after each rollup refresh (docs/aqi.md, "Stored AQI").
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Final

from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from analytics.aqi import METRICS, AqiResult, Metric, daily_aqi, day_hours, day_of, hourly_aqi
from analytics.aqi.nowcast import HOURS as NOWCAST_HOURS

__all__ = ["AQI_STATE", "RECOMPUTE_HOURS", "AqiRefreshResult", "AqiWrite", "compute_aqi",
           "refresh_aqi"]  # fmt: skip

log = logging.getLogger(__name__)

KIND: Final = "air_quality_station"
AQI_STATE: Final = "aqi"  # its row in rollup_state
LOCK_KEY: Final = 0x10C_0011  # advisory lock: one AQI refresh at a time across runners
HOUR: Final = timedelta(hours=1)
# Recomputed every run whatever the watermark says. telemetry_1h rows carry no updated_at, and
# the rollup rewrites its last safety margin every run; 36 h covers that, a NowCast window
# (12 h) and the current local day whole, for ~36 rows per station a minute: negligible.
RECOMPUTE_HOURS: Final = 36
# Late hours: telemetry_touched_hours.updated_at later than the rollup run we last followed,
# minus this (an ingest transaction that began before that run and committed after it).
LATE_MARGIN: Final = timedelta(minutes=10)
# A first run over years of history is worked through in steps of this many hours.
MAX_SPAN_HOURS: Final = 24 * 7
_O3_8H_REACH: Final = 7 * HOUR  # an 8-hour O3 mean ending at 01:00 starts 7 hours earlier

Means = dict[Metric, dict[datetime, float]]


@dataclass
class AqiWrite:
    """Rows inserted, changed or deleted by one computation (unchanged rows are not counted)."""

    hourly: int = 0
    daily: int = 0
    deleted: int = 0


@dataclass
class AqiRefreshResult:
    skipped: bool = False  # another runner held the lock
    ranges: list[tuple[datetime, datetime]] = field(default_factory=list)
    written: AqiWrite = field(default_factory=AqiWrite)

    def as_dict(self) -> dict[str, object]:
        return {
            "skipped": self.skipped,
            "ranges": [(lo.isoformat(), hi.isoformat()) for lo, hi in self.ranges],
            **asdict(self.written),
        }


def compute_aqi(conn: Connection, since: datetime, until: datetime) -> AqiWrite:
    """Recompute the hourly AQI of every station for the hour-end stamps in ``[since, until)``
    (floored to the hour) and the daily AQI of every day containing one of them.

    A station gets a row for each hour and day in which it has any hourly mean (``aqi`` null
    when the data allow none), as ``ioc aqi`` reports; rows in the range for which the data no
    longer exist are deleted. Unchanged rows are not rewritten, so a rerun writes nothing.
    """
    since, until = _floor_hour(since), _floor_hour(until)
    if until <= since:
        return AqiWrite()
    days = sorted({day_of(since + i * HOUR) for i in range(int((until - since) / HOUR))})
    lo = min(since - (NOWCAST_HOURS - 1) * HOUR, day_hours(days[0])[0] - _O3_8H_REACH)
    hi = max(until, day_hours(days[-1])[-1] + HOUR)
    stations = _hourly_means(conn, lo, hi)
    hourly: list[tuple[int, datetime, AqiResult]] = []
    daily: list[tuple[int, date, AqiResult]] = []
    for key, means in stations.items():
        stamps = {t for series in means.values() for t in series}
        for hour in sorted(t for t in stamps if since <= t < until):
            hourly.append((key, hour, hourly_aqi(means, hour)))
        for day in days:
            if stamps.intersection(day_hours(day)):
                daily.append((key, day, daily_aqi(means, day)))
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        written = AqiWrite()
        if hourly:
            cur.executemany(_UPSERT_HOURLY, [_params(k, h, r) for k, h, r in hourly])
            written.hourly = cur.rowcount
        if daily:
            cur.executemany(_UPSERT_DAILY, [_params(k, d, r) for k, d, r in daily])
            written.daily = cur.rowcount
        keys, hours = [k for k, _, _ in hourly], [h for _, h, _ in hourly]
        written.deleted = cur.execute(
            _DELETE_HOURLY, {"since": since, "until": until, "keys": keys, "at": hours}
        ).rowcount
        keys, dates = [k for k, _, _ in daily], [d for _, d, _ in daily]
        written.deleted += cur.execute(
            _DELETE_DAILY, {"days": days, "keys": keys, "at": dates}
        ).rowcount
    return written


def refresh_aqi(conn: Connection, *, margin: timedelta = LATE_MARGIN) -> AqiRefreshResult:
    """Bring the stored AQI up to the telemetry rollup's watermark, in steps of at most
    :data:`MAX_SPAN_HOURS`; call it after ``analytics.rollups.refresh``."""
    total = AqiRefreshResult()
    while True:
        step, caught_up = _refresh_step(conn, margin)
        total.skipped |= step.skipped
        total.ranges += step.ranges
        for name in ("hourly", "daily", "deleted"):
            setattr(total.written, name, getattr(total.written, name) + getattr(step.written, name))
        if caught_up or step.skipped:
            return total


def _refresh_step(conn: Connection, margin: timedelta) -> tuple[AqiRefreshResult, bool]:
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        locked = cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (LOCK_KEY,)).fetchone()
        if not (locked and locked[0]):
            return AqiRefreshResult(skipped=True), True
        state = cur.execute(
            "SELECT name, watermark, last_run_at FROM rollup_state WHERE name IN (%s, %s) "
            "ORDER BY name FOR UPDATE",
            ("telemetry", AQI_STATE),
        ).fetchall()
        rows = {name: (watermark, last_run) for name, watermark, last_run in state}
        assert AQI_STATE in rows, "rollup_state row 'aqi' missing: run `ioc db migrate`"
        rolled_up, seen_run = rows.get("telemetry", (None, None))
        watermark, last_seen_run = rows[AQI_STATE]
        if rolled_up is None:
            return AqiRefreshResult(), True
        # Hour-ends up to the one ending at the floor of the rollup watermark: complete hours
        # only (the still-open hour is partial in telemetry_1h and would flicker on the wall).
        target = _floor_hour(rolled_up) + HOUR
        start = watermark if watermark is not None else _oldest_hour(conn) or target
        start = min(start, target - RECOMPUTE_HOURS * HOUR)
        end = min(target, start + MAX_SPAN_HOURS * HOUR)
        ranges = [(start, end)]
        if last_seen_run is not None:
            ranges += _late_ranges(conn, since=last_seen_run - margin, before=start, cap=target)
        result = AqiRefreshResult(ranges=ranges)
        for lo, hi in ranges:
            step = compute_aqi(conn, lo, hi)
            result.written.hourly += step.hourly
            result.written.daily += step.daily
            result.written.deleted += step.deleted
        cur.execute(
            "UPDATE rollup_state SET watermark = %s, last_run_at = %s WHERE name = %s",
            (end, seen_run, AQI_STATE),
        )
    return result, end >= target


def _late_ranges(
    conn: Connection, *, since: datetime, before: datetime, cap: datetime
) -> list[tuple[datetime, datetime]]:
    """Hour-end ranges behind ``before`` whose inputs changed: a touched bucket ``b`` feeds the
    hours ending at ``b + 1h`` (its own) through ``b + 12h`` (the NowCasts that include it)."""
    rows = (
        conn.cursor(row_factory=tuple_row)
        .execute(
            "SELECT hour FROM telemetry_touched_hours WHERE updated_at > %s AND hour + %s < %s "
            "ORDER BY hour",
            (since, HOUR, before),
        )
        .fetchall()
    )
    ranges: list[tuple[datetime, datetime]] = []
    for (bucket,) in rows:
        lo, hi = bucket + HOUR, min(bucket + (NOWCAST_HOURS + 1) * HOUR, cap)
        if ranges and lo <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(hi, ranges[-1][1]))
        elif lo < hi:
            ranges.append((lo, hi))
    return ranges


def _hourly_means(conn: Connection, lo: datetime, hi: datetime) -> dict[int, Means]:
    """device_key -> metric -> hour-end stamp -> mean (sum / count) for hour-ends in [lo, hi)."""
    rows = (
        conn.cursor(row_factory=tuple_row)
        .execute(
            """SELECT h.device_key, m.name, h.bucket + interval '1 hour', h.sum / h.count
           FROM telemetry_1h h JOIN metrics m ON m.id = h.metric_id
           WHERE m.kind = %s AND m.name = ANY(%s) AND h.bucket >= %s AND h.bucket < %s""",
            (KIND, list(METRICS), lo - HOUR, hi - HOUR),
        )
        .fetchall()
    )
    stations: dict[int, Means] = defaultdict(dict)
    for key, metric, hour, mean in rows:
        if not math.isfinite(mean) or mean < 0:
            # Ingest's range check should have stopped it; one bad mean must not stop the loop.
            log.warning("aqi: skipping %s mean %s of device_key %s at %s", metric, mean, key, hour)
            continue
        stations[key].setdefault(metric, {})[hour] = mean
    return stations


def _oldest_hour(conn: Connection) -> datetime | None:
    """Where a first run starts: the oldest hour-end of any air-quality mean (one-off scan)."""
    row = (
        conn.cursor(row_factory=tuple_row)
        .execute(
            """SELECT min(h.bucket) + interval '1 hour' FROM telemetry_1h h
           JOIN metrics m ON m.id = h.metric_id WHERE m.kind = %s""",
            (KIND,),
        )
        .fetchone()
    )
    return row[0] if row else None


def _floor_hour(moment: datetime) -> datetime:
    # Vietnam and UTC differ by whole hours, so this is the same hour in either zone.
    return moment.replace(minute=0, second=0, microsecond=0)


def _params(key: int, at: datetime | date, result: AqiResult) -> tuple[object, ...]:
    return (at, key, result.aqi, result.dominant, Jsonb(dict(result.sub_indices)))


_CHANGED = "IS DISTINCT FROM (excluded.aqi, excluded.dominant, excluded.sub_indices)"
_UPSERT_HOURLY = f"""
INSERT INTO aqi_hourly (hour, device_key, aqi, dominant, sub_indices) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (device_key, hour) DO UPDATE SET aqi = excluded.aqi, dominant = excluded.dominant,
    sub_indices = excluded.sub_indices, computed_at = now()
WHERE (aqi_hourly.aqi, aqi_hourly.dominant, aqi_hourly.sub_indices) {_CHANGED}"""
_UPSERT_DAILY = f"""
INSERT INTO aqi_daily (date, device_key, aqi, dominant, sub_indices) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (device_key, date) DO UPDATE SET aqi = excluded.aqi, dominant = excluded.dominant,
    sub_indices = excluded.sub_indices, computed_at = now()
WHERE (aqi_daily.aqi, aqi_daily.dominant, aqi_daily.sub_indices) {_CHANGED}"""
_DELETE_HOURLY = """
DELETE FROM aqi_hourly a WHERE a.hour >= %(since)s AND a.hour < %(until)s
  AND (a.device_key, a.hour) NOT IN (
      SELECT * FROM unnest(%(keys)s::integer[], %(at)s::timestamptz[]))"""
_DELETE_DAILY = """
DELETE FROM aqi_daily a WHERE a.date = ANY(%(days)s::date[])
  AND (a.device_key, a.date) NOT IN (SELECT * FROM unnest(%(keys)s::integer[], %(at)s::date[]))"""
