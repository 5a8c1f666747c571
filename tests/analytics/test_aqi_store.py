"""Stored AQI: equal to analytics.aqi on the same hourly means, idempotent, late data followed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from analytics.aqi import Metric, daily_aqi, day_of, hourly_aqi
from analytics.aqi_store import AqiWrite, compute_aqi, refresh_aqi
from devices.registry import DeviceIn, ensure_tenant, upsert_device

HOUR = timedelta(hours=1)
# 14 hour-ends, the last one the hour just closed: recent enough to be "current" on the API.
LAST = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
FIRST = LAST - 13 * HOUR

Series = dict[Metric, dict[datetime, float]]


def station_series(first: datetime, hours: int, *, base: float) -> Series:
    """A plausible station: PM2.5 rising then falling, PM10, O3 and NO2, one PM gap."""
    stamps = [first + i * HOUR for i in range(hours)]
    series: Series = {
        "pm25": {t: base + 7.5 * (i % 9) for i, t in enumerate(stamps) if i != 4},
        "pm10": {t: 1.6 * base + 3.25 * i for i, t in enumerate(stamps)},
        "o3": {t: 40.0 + 12.5 * i for i, t in enumerate(stamps)},
        "no2": {t: 30.5 + i for i, t in enumerate(stamps[::2])},
    }
    return series


def add_station(conn: psycopg.Connection, device_id: str, *, tenant: str, commune: str) -> int:
    ensure_tenant(conn, tenant, tenant)
    upsert_device(conn, DeviceIn(id=device_id, kind="air_quality_station", tenant_id=tenant,
                                 commune_code=commune, lat=20.85, lon=106.68))  # fmt: skip
    row = conn.execute("SELECT key FROM devices WHERE id = %s", (device_id,)).fetchone()
    assert row is not None
    return int(row[0])


def write_means(conn: psycopg.Connection, key: int, series: Series) -> None:
    """telemetry_1h rows as the rollup writes them: bucket = start of the hour, 4 readings."""
    ids = dict(conn.execute("SELECT name, id FROM metrics WHERE kind = 'air_quality_station'"))
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO telemetry_1h (bucket, device_key, metric_id, min, max, sum, count,
                                         last, last_time)
               VALUES (%s, %s, %s, %s, %s, %s, 4, %s, %s)
               ON CONFLICT (device_key, metric_id, bucket) DO UPDATE SET sum = excluded.sum""",
            [(end - HOUR, key, ids[m], v, v, 4 * v, v, end - HOUR)
             for m, values in series.items() for end, v in values.items()],
        )  # fmt: skip


def communes(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT code FROM communes ORDER BY code LIMIT 3")]


def stored_hourly(conn: psycopg.Connection, key: int) -> dict[datetime, tuple]:
    rows = conn.execute(
        "SELECT hour, aqi, dominant, sub_indices FROM aqi_hourly WHERE device_key = %s", (key,)
    )
    return {hour: (aqi, dom, subs) for hour, aqi, dom, subs in rows}


def expected(means: Mapping[Metric, Mapping[datetime, float]], at: datetime) -> tuple:
    result = hourly_aqi(means, at)
    return (result.aqi, result.dominant, dict(result.sub_indices))


@pytest.fixture
def two_stations(conn: psycopg.Connection) -> dict[int, Series]:
    code_a, code_b, _ = communes(conn)
    stations = {
        add_station(conn, "aq-clean", tenant="sonnmt", commune=code_a): station_series(
            FIRST, 14, base=12.0
        ),
        add_station(conn, "aq-dirty", tenant="sonnmt", commune=code_b): station_series(
            FIRST, 14, base=70.0
        ),
    }
    for key, series in stations.items():
        write_means(conn, key, series)
    return stations


def test_hourly_rows_equal_analytics_aqi_on_the_same_means(
    conn: psycopg.Connection, two_stations: dict[int, Series]
) -> None:
    written = compute_aqi(conn, FIRST, LAST + HOUR)
    assert written.hourly == 28
    for key, series in two_stations.items():
        stored = stored_hourly(conn, key)
        assert sorted(stored) == [FIRST + i * HOUR for i in range(14)]
        for hour, row in stored.items():
            assert row == expected(series, hour), hour
    # The first hour has no NowCast (needs 2 of the last 3 hours): a row, but no AQI.
    assert stored_hourly(conn, next(iter(two_stations)))[FIRST][0] is None


def test_daily_rows_for_every_day_touched(
    conn: psycopg.Connection, two_stations: dict[int, Series]
) -> None:
    compute_aqi(conn, FIRST, LAST + HOUR)
    days = sorted({day_of(FIRST + i * HOUR) for i in range(14)})
    for key, series in two_stations.items():
        rows = conn.execute(
            "SELECT date, aqi, dominant, sub_indices FROM aqi_daily WHERE device_key = %s "
            "ORDER BY date",
            (key,),
        ).fetchall()
        assert [r[0] for r in rows] == days
        for day, aqi, dominant, subs in rows:
            result = daily_aqi(series, day)
            assert (aqi, dominant, subs) == (result.aqi, result.dominant, result.sub_indices)
    # 14 hours are fewer than the 18 a daily parameter needs: stored, without an AQI.
    assert {r[0] for r in conn.execute("SELECT aqi FROM aqi_daily")} == {None}


def test_daily_aqi_over_a_full_day(conn: psycopg.Connection) -> None:
    key = add_station(conn, "aq-day", tenant="sonnmt", commune=communes(conn)[0])
    day = day_of(LAST) - timedelta(days=2)
    first = datetime.combine(day, datetime.min.time(), tzinfo=UTC) - 6 * HOUR  # 01:00 +07
    series = station_series(first, 24, base=30.0)
    write_means(conn, key, series)
    compute_aqi(conn, first, first + 24 * HOUR)
    row = conn.execute(
        "SELECT aqi, dominant FROM aqi_daily WHERE device_key = %s AND date = %s", (key, day)
    ).fetchone()
    result = daily_aqi(series, day)
    assert result.aqi is not None
    assert row == (result.aqi, result.dominant)


def test_rerun_writes_nothing(conn: psycopg.Connection, two_stations: dict[int, Series]) -> None:
    compute_aqi(conn, FIRST, LAST + HOUR)
    before = conn.execute("SELECT * FROM aqi_hourly ORDER BY 1, 2").fetchall()
    assert compute_aqi(conn, FIRST, LAST + HOUR) == AqiWrite()
    assert conn.execute("SELECT * FROM aqi_hourly ORDER BY 1, 2").fetchall() == before


def test_hours_whose_data_vanished_are_deleted(
    conn: psycopg.Connection, two_stations: dict[int, Series]
) -> None:
    compute_aqi(conn, FIRST, LAST + HOUR)
    key = next(iter(two_stations))
    # An hour in the middle of the series: its Vietnam day keeps other hours whatever the
    # clock says, so only the hourly row goes (the last hour alone opens a day at 01:00 ICT).
    gone = FIRST + 6 * HOUR
    conn.execute("DELETE FROM telemetry_1h WHERE device_key = %s AND bucket = %s",
                 (key, gone - HOUR))  # fmt: skip
    assert compute_aqi(conn, FIRST, LAST + HOUR).deleted == 1
    assert gone not in stored_hourly(conn, key)
    assert gone - HOUR in stored_hourly(conn, key)


def set_rollup_state(conn: psycopg.Connection, watermark: datetime) -> None:
    """What a rollup refresh leaves behind: its watermark and the database clock."""
    conn.execute(
        "UPDATE rollup_state SET watermark = %s, last_run_at = now() WHERE name = 'telemetry'",
        (watermark,),
    )


def test_refresh_follows_the_rollup_and_picks_up_late_changes(conn: psycopg.Connection) -> None:
    key = add_station(conn, "aq-late", tenant="sonnmt", commune=communes(conn)[0])
    old = LAST - 60 * HOUR  # far behind the 36 hours recomputed every run
    series = station_series(old, 14, base=20.0)
    write_means(conn, key, series)
    set_rollup_state(conn, LAST + timedelta(minutes=5))
    first = refresh_aqi(conn)
    assert first.ranges[0][0] == old and first.ranges[0][1] == LAST + HOUR
    assert stored_hourly(conn, key)[old + 5 * HOUR] == expected(series, old + 5 * HOUR)
    assert refresh_aqi(conn).written == AqiWrite()  # nothing new: nothing written

    # Late readings change one old hour; ingest marks it, the rollup folds it in.
    late_bucket = old + 4 * HOUR
    series["pm25"][late_bucket + HOUR] = 240.0
    write_means(conn, key, {"pm25": {late_bucket + HOUR: 240.0}})
    conn.execute("INSERT INTO telemetry_touched_hours (hour, readings) VALUES (%s, 3)",
                 (late_bucket,))  # fmt: skip
    set_rollup_state(conn, LAST + timedelta(minutes=6))
    late = refresh_aqi(conn)
    assert (late_bucket + HOUR, late_bucket + 13 * HOUR) in late.ranges
    assert late.written.hourly > 0
    for hour, row in stored_hourly(conn, key).items():
        assert row == expected(series, hour), hour
    assert refresh_aqi(conn).written == AqiWrite()


def test_refresh_before_any_rollup_does_nothing(conn: psycopg.Connection) -> None:
    result = refresh_aqi(conn)
    assert (result.skipped, result.ranges) == (False, [])
