"""Seeding a benchmark database: devices, readings, rollups, AQI, latest values, in bulk.

Readings are generated with numpy straight into PostgreSQL's binary COPY format (a few
hundred MB/s from Python; psycopg's per-row ``write_row`` would be the bottleneck at 100 M
rows). Rows go in time order, all devices interleaved, as ingest writes them, so the table's
physical layout is the real one rather than one device's readings packed together. Indexes
are dropped during the load and rebuilt once after it, which is several times faster than
maintaining them row by row. The 1-minute rollup is exactly the readings (one a minute); the
1-hour rollup is aggregated in numpy from the same arrays: what the incremental refresher would
compute, without re-reading 100 M rows.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
from psycopg import Connection

from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ioc_api.services.latest import rebuild_latest
from ioc_core.db import fetch_all

# (kind, share of devices, metrics, typical level, daily swing)
FLEET: Final = (
    ("air_quality_station", 0.5, ("pm25", "pm10", "no2"), 35.0, 15.0),
    ("traffic_camera", 0.3, ("count_car_in", "count_motorbike_in", "count_bus_truck_in"),
     20.0, 18.0),
    ("weather_station", 0.2, ("temperature", "humidity", "rain"), 27.0, 5.0),
)  # fmt: skip
TENANTS: Final = ("sonnmt", "sxd", "kcn")
PG_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_TRAILER: Final = struct.pack("!h", -1)


@dataclass(frozen=True)
class Series:
    device_key: int
    metric_id: int
    level: float
    swing: float
    kind: str


@dataclass
class SeedReport:
    devices: int
    series: int
    rows: int
    rows_1m: int
    rows_1h: int
    start: datetime
    end: datetime


def register_fleet(conn: Connection, devices: int, rng: np.random.Generator) -> list[Series]:
    communes = [r[0] for r in fetch_all(conn, "SELECT code FROM communes ORDER BY code")]
    for tenant in TENANTS:
        ensure_tenant(conn, tenant, tenant)
    n = 0
    for kind, share, _, _, _ in FLEET:
        count = round(devices * share) if kind != FLEET[-1][0] else devices - n
        for i in range(count):
            commune = communes[(n + i) % len(communes)]
            upsert_device(conn, DeviceIn(
                id=f"{kind[:3]}-{n + i:05d}", kind=kind, tenant_id=TENANTS[(n + i) % 3],
                commune_code=commune, lat=20.6 + rng.random() * 0.5,
                lon=106.3 + rng.random() * 0.5,
            ))  # fmt: skip
        n += count
    rows = fetch_all(
        conn,
        """SELECT d.key, m.id, d.kind, m.name FROM devices d JOIN metrics m ON m.kind = d.kind
           ORDER BY d.key, m.id""",
    )
    wanted = {kind: (metrics, level, swing) for kind, _, metrics, level, swing in FLEET}
    return [
        Series(key, metric_id, wanted[kind][1], wanted[kind][2], kind)
        for key, metric_id, kind, name in rows
        if name in wanted[kind][0]
    ]


def _field(dtype: str) -> list[tuple[str, str]]:
    return [("len", ">i4"), ("v", dtype)]


def _copy_binary(conn: Connection, table: str, columns: str, arrays: list[np.ndarray],
                 dtypes: list[str]) -> None:  # fmt: skip
    """One binary COPY of equally long columns, encoded by numpy in one pass."""
    fields = [("n", ">i2")]
    for i, dtype in enumerate(dtypes):
        fields += [(f"l{i}", ">i4"), (f"v{i}", dtype)]
    rec = np.empty(len(arrays[0]), dtype=np.dtype(fields))
    rec["n"] = len(arrays)
    for i, (array, dtype) in enumerate(zip(arrays, dtypes, strict=True)):
        rec[f"l{i}"] = np.dtype(dtype).itemsize
        rec[f"v{i}"] = array
    with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_HEADER)
        view = memoryview(rec.tobytes())
        step = 64 * 1024 * 1024
        for offset in range(0, len(view), step):
            copy.write(view[offset : offset + step])
        copy.write(_TRAILER)


def _micros(moments: np.ndarray) -> np.ndarray:
    """numpy datetime64[us] (UTC) to PostgreSQL's microseconds since 2000-01-01."""
    return (moments - np.datetime64(PG_EPOCH.replace(tzinfo=None), "us")).astype(np.int64)


def load_day(conn: Connection, series: list[Series], day_start: datetime, minutes: int,
             rng: np.random.Generator) -> tuple[int, int, int]:  # fmt: skip
    """One day (or less) of readings, every series every minute, and their rollups."""
    s = len(series)
    base = np.datetime64(day_start.replace(tzinfo=None), "us")
    times = base + np.arange(minutes, dtype=np.int64) * np.int64(60_000_000)
    level = np.array([x.level for x in series])[:, None]
    swing = np.array([x.swing for x in series])[:, None]
    phase = (np.arange(minutes) + day_start.hour * 60 + day_start.minute) / 1440 * 2 * np.pi
    values = level + swing * np.sin(phase)[None, :] + rng.normal(0, 2.0, (s, minutes))
    values = np.maximum(values, 0.0)  # (series, minute)
    keys = np.array([x.device_key for x in series], dtype=np.int32)
    metric_ids = np.array([x.metric_id for x in series], dtype=np.int16)
    # Time-major: minute by minute, every series, as ingest lands them.
    t = np.repeat(_micros(times), s)
    k = np.tile(keys, minutes)
    m = np.tile(metric_ids, minutes)
    v = values.T.reshape(-1)
    _copy_binary(conn, "telemetry", "time, device_key, metric_id, value", [t, k, m, v],
                 [">i8", ">i4", ">i2", ">f8"])  # fmt: skip
    ones = np.ones(len(v), dtype=np.int64)
    _copy_binary(conn, "telemetry_1m",
                 "bucket, device_key, metric_id, min, max, sum, count, last, last_time",
                 [t, k, m, v, v, v, ones, v, t],
                 [">i8", ">i4", ">i2", ">f8", ">f8", ">f8", ">i8", ">f8", ">i8"])  # fmt: skip
    hours = minutes // 60
    hourly = values[:, : hours * 60].reshape(s, hours, 60)
    hour_times = _micros(times[: hours * 60 : 60])
    ht = np.repeat(hour_times, s)
    hk, hm = np.tile(keys, hours), np.tile(metric_ids, hours)
    hv = hourly.transpose(1, 0, 2)  # (hour, series, minute)
    _copy_binary(conn, "telemetry_1h",
                 "bucket, device_key, metric_id, min, max, sum, count, last, last_time",
                 [ht, hk, hm, hv.min(axis=2).reshape(-1), hv.max(axis=2).reshape(-1),
                  hv.sum(axis=2).reshape(-1), np.full(len(ht), 60, dtype=np.int64),
                  hv[:, :, 59].reshape(-1), ht + np.int64(59 * 60_000_000)],
                 [">i8", ">i4", ">i2", ">f8", ">f8", ">f8", ">i8", ">f8", ">i8"])  # fmt: skip
    return len(v), len(v), len(ht)


_INDEXES: Final = (
    ("telemetry_identity_idx",
     "CREATE UNIQUE INDEX telemetry_identity_idx ON telemetry (device_key, metric_id, time DESC)"),
    ("telemetry_time_brin", "CREATE INDEX telemetry_time_brin ON telemetry USING brin (time)"),
    ("telemetry_1m_identity_idx", "CREATE UNIQUE INDEX telemetry_1m_identity_idx "
     "ON telemetry_1m (device_key, metric_id, bucket DESC)"),
    ("telemetry_1h_identity_idx", "CREATE UNIQUE INDEX telemetry_1h_identity_idx "
     "ON telemetry_1h (device_key, metric_id, bucket DESC)"),
)  # fmt: skip


def seed(conn: Connection, *, devices: int, days: int, seed: int = 1,
         progress: Callable[[str], None] = lambda _: None) -> SeedReport:  # fmt: skip
    """Fill an empty, migrated database; ``conn`` in autocommit mode."""
    rng = np.random.default_rng(seed)
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET maintenance_work_mem = '1GB'")
    series = register_fleet(conn, devices, rng)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = (end - timedelta(days=days)).replace(minute=0)
    for name, _ in _INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {name}")
    rows = rows_1m = rows_1h = 0
    day = start
    while day < end:
        minutes = int(min(timedelta(days=1), end - day).total_seconds() // 60)
        with conn.transaction():
            a, b, c = load_day(conn, series, day, minutes, rng)
        rows, rows_1m, rows_1h = rows + a, rows_1m + b, rows_1h + c
        progress(f"{day:%Y-%m-%d}: {rows:,} readings")
        day += timedelta(days=1)
    for name, ddl in _INDEXES:
        progress(f"building {name}")
        conn.execute(ddl)
    _seed_aqi(conn, start, end)
    rebuild_latest(conn, since=end - timedelta(hours=1))
    progress("analyze")
    conn.execute("ANALYZE")
    return SeedReport(devices, len(series), rows, rows_1m, rows_1h, start, end)


def _seed_aqi(conn: Connection, start: datetime, end: datetime) -> None:
    """Hourly AQI per air-quality station from its hourly PM2.5 mean (a stand-in for the
    NowCast: the benchmark measures reading the map, not computing it)."""
    conn.execute(
        """INSERT INTO aqi_hourly (hour, device_key, aqi, dominant)
           SELECT h.bucket + interval '1 hour', h.device_key,
                  least(500, greatest(0, round(h.sum / h.count * 2)))::smallint, 'pm25'
           FROM telemetry_1h h JOIN metrics m ON m.id = h.metric_id
           WHERE m.kind = 'air_quality_station' AND m.name = 'pm25'
             AND h.bucket >= %s AND h.bucket < %s""",
        (start, end),
    )


def seeded_report(conn: Connection) -> SeedReport:
    """What a kept benchmark database holds (for ``--reuse``); counts from the catalogue's
    estimates where an exact count would scan 100 M rows."""

    def estimate(table: str) -> int:
        rows = fetch_all(conn, "SELECT approximate_row_count(%s::regclass)", (table,))
        return int(rows[0][0])

    devices, series, start, end = fetch_all(
        conn,
        """SELECT (SELECT count(*) FROM devices), (SELECT count(*) FROM telemetry_latest),
                  (SELECT min(bucket) FROM telemetry_1h),
                  (SELECT max(time) FROM telemetry_latest)""",
    )[0]
    return SeedReport(devices, series, estimate("telemetry"), estimate("telemetry_1m"),
                      estimate("telemetry_1h"), start, end)  # fmt: skip
