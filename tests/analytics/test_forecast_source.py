"""What the served targets are made of, read from the rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from analytics.forecast.source import SERVED, load_history
from devices.registry import DeviceIn, ensure_tenant, upsert_device

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def device(conn: psycopg.Connection, device_id: str, kind: str) -> int:
    ensure_tenant(conn, "sxd", "sxd")
    upsert_device(conn, DeviceIn(id=device_id, kind=kind, tenant_id="sxd", lat=20.85,
                                 lon=106.68))  # fmt: skip
    return int(conn.execute("SELECT key FROM devices WHERE id = %s", (device_id,)).fetchone()[0])


def metric_id(conn: psycopg.Connection, kind: str, name: str) -> int:
    return int(conn.execute("SELECT id FROM metrics WHERE kind = %s AND name = %s",
                            (kind, name)).fetchone()[0])  # fmt: skip


def insert(conn, table: str, rows: list[tuple[datetime, int, int, float, float]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            f"""INSERT INTO {table} (bucket, device_key, metric_id, min, max, sum, count, last,
                                     last_time)
                VALUES (%s, %s, %s, 0, 0, %s, 1, %s, %s)""",
            [(b, k, m, s, last, b) for b, k, m, s, last in rows],
        )


def served(metric: str):
    return next(s for s in SERVED if s.spec.metric == metric)


def test_traffic_volume_is_every_count_summed_per_15_minutes(conn) -> None:
    key = device(conn, "cam-1", "traffic_camera")
    cars = metric_id(conn, "traffic_camera", "count_car_in")
    bikes = metric_id(conn, "traffic_camera", "count_motorbike_out")
    speed = metric_id(conn, "traffic_camera", "mean_speed")  # not a count: left out
    rows = []
    for minute in range(30):
        at = T0 + timedelta(minutes=minute)
        rows += [(at, key, cars, 2.0, 2.0), (at, key, bikes, 5.0, 5.0), (at, key, speed, 40, 40)]
    insert(conn, "telemetry_1m", rows)
    (series,) = load_history(conn, served("traffic_volume"), since=T0,
                             until=T0 + timedelta(hours=1), tz=VN)  # fmt: skip
    assert series.device_id == "cam-1" and series.grid.step == 900
    assert list(series.grid.values) == [15 * 7.0, 15 * 7.0]


def test_daily_energy_is_the_meter_difference_per_local_day(conn) -> None:
    key = device(conn, "cab-1", "lighting_cabinet")
    energy = metric_id(conn, "lighting_cabinet", "energy")
    rows = []
    meter = 1000.0
    for hour in range(24 * 4):
        at = T0 + timedelta(hours=hour)
        local_hour = at.astimezone(VN).hour
        meter += 3.0 if local_hour >= 18 or local_hour < 6 else 0.0  # lit at night
        if hour == 50:
            meter = 0.0  # meter replaced: that day is a gap, not negative use
        rows.append((at, key, energy, 0.0, meter))
    insert(conn, "telemetry_1h", rows)
    (series,) = load_history(conn, served("energy_daily"), since=T0 + timedelta(days=1),
                             until=T0 + timedelta(days=4), tz=VN)  # fmt: skip
    values = series.grid.values
    assert series.grid.step == 86_400
    assert series.grid.time_of(0).astimezone(VN).hour == 0  # local days
    full_days = values[np.isfinite(values)]
    assert 36.0 in full_days  # 12 lit hours x 3 kWh
    assert np.all(full_days >= 0)
    assert np.isnan(values).sum() >= 1
