"""Timing the wall's four queries through the same service functions the API serves them with.

Each query runs ``iterations`` times after a short warm-up, with a different device or commune
each time (picked with a fixed seed), so the figures are not one cached page read repeatedly.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
from psycopg import Connection

from analytics.aqi_store_read import current_aqi_json
from ioc_api.services.latest import sweep_latest
from ioc_api.services.telemetry import SeriesRef, commune_buckets, device_buckets, latest_values
from ioc_core.db import fetch_all

WARMUP = 5
# Devices that report in one second at city scale: 20,000 devices every 60 s.
SWEEP_DEVICES = 333


def _time(
    fn: Callable[[], Any], iterations: int, count: Callable[[Any], int] = len
) -> dict[str, float | int]:
    for _ in range(WARMUP):
        fn()
    laps = []
    result: Any = None
    for _ in range(iterations):
        start = time.perf_counter()
        result = fn()
        laps.append((time.perf_counter() - start) * 1000)
    rows = count(result)  # outside the timing: a JSON body is parsed only to count it
    cuts = statistics.quantiles(laps, n=100, method="inclusive")
    return {"p50_ms": round(statistics.median(laps), 2), "p95_ms": round(cuts[94], 2),
            "max_ms": round(max(laps), 2), "result_rows": rows}  # fmt: skip


def _json_rows(body: bytes) -> int:
    return len(orjson.loads(body))


def _time_inner(fn: Callable[[], float], iterations: int) -> dict[str, float | int]:
    """Like :func:`_time` for a function that times itself (its set-up is not counted)."""
    for _ in range(WARMUP):
        fn()
    laps = [fn() * 1000 for _ in range(iterations)]
    cuts = statistics.quantiles(laps, n=100, method="inclusive")
    return {"p50_ms": round(statistics.median(laps), 2), "p95_ms": round(cuts[94], 2),
            "max_ms": round(max(laps), 2), "devices_moved": SWEEP_DEVICES}  # fmt: skip


def measure(conn: Connection, *, iterations: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    rows = fetch_all(
        conn,
        """SELECT d.key, m.id, m.unit FROM devices d JOIN metrics m ON m.kind = d.kind
           JOIN telemetry_latest l ON l.device_key = d.key AND l.metric_id = m.id""",
    )
    series = [SeriesRef(device_key=k, metric_id=m, unit=u) for k, m, u in rows]
    communes = [r[0] for r in fetch_all(
        conn, "SELECT DISTINCT commune_code FROM devices WHERE kind = 'air_quality_station'"
    )]  # fmt: skip
    newest = fetch_all(conn, "SELECT max(time) FROM telemetry_latest")[0][0]

    def latest() -> Any:
        return orjson.dumps(latest_values(conn))  # the body GET /telemetry/latest sends

    def device_day() -> Any:
        ref = rng.choice(series)
        return device_buckets(conn, ref, device_id="bench", metric="bench", bucket="1m",
                              since=newest - timedelta(hours=24), until=newest)  # fmt: skip

    def commune_week() -> Any:
        return commune_buckets(conn, commune_code=rng.choice(communes),
                               kind="air_quality_station", metric="pm25", bucket="1h",
                               since=newest - timedelta(days=7), until=newest,
                               tenant=None)  # fmt: skip

    def aqi_map() -> Any:
        return current_aqi_json(conn)  # the response body, as GET /aqi/current sends

    keys = [r[0] for r in fetch_all(conn, "SELECT key FROM devices ORDER BY key")]
    conn.execute(
        "UPDATE devices d SET last_seen = l.newest FROM (SELECT device_key, max(time) "
        "AS newest FROM telemetry_latest GROUP BY 1) l WHERE d.key = l.device_key"
    )
    sweep_latest(conn, since=newest)  # sync every device once, as a running API would have

    def sweep() -> Any:
        # One second of the city: SWEEP_DEVICES devices reported (their last_seen moved).
        moved = rng.sample(keys, min(SWEEP_DEVICES, len(keys)))
        conn.execute(
            "UPDATE devices SET last_seen = last_seen + interval '1 microsecond' "
            "WHERE key = ANY(%s)",
            (moved,),
        )
        start = time.perf_counter()
        sweep_latest(conn, since=newest)
        return time.perf_counter() - start

    return {
        "latest_sweep": _time_inner(sweep, max(20, iterations // 4)),
        "latest_per_device": _time(latest, iterations, _json_rows),
        "device_24h_1m": _time(device_day, iterations),
        "commune_7d_1h": _time(commune_week, iterations),
        "aqi_map": _time(aqi_map, iterations, _json_rows),
    }
