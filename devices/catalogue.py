"""Reference data the database mirrors from files: the 114 communes and the metric catalogue.

Run after every migration (entry point ``ioc.post_migrate``) so a new device profile or a
corrected commune row reaches the database without a hand-written migration. Upserts only:
rows that telemetry or devices refer to are never deleted here.
"""

from __future__ import annotations

from psycopg import Connection

from devices.communes import load_communes
from devices.profiles import load_profiles


def sync_communes(conn: Connection) -> None:
    rows = [
        (c.code, c.no, c.kind, c.name, c.full_name, c.lat, c.lon, c.area_km2)
        for c in load_communes()
    ]
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO communes (code, no, kind, name, full_name, lat, lon, area_km2)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (code) DO UPDATE SET
                 no = EXCLUDED.no, kind = EXCLUDED.kind, name = EXCLUDED.name,
                 full_name = EXCLUDED.full_name, lat = EXCLUDED.lat, lon = EXCLUDED.lon,
                 area_km2 = EXCLUDED.area_km2""",
            rows,
        )


def sync_metrics(conn: Connection) -> None:
    rows = [
        (kind, m.name, m.unit, m.min, m.max, m.interval_s, m.description)
        for kind, profile in sorted(load_profiles().items())
        for m in profile.metrics
    ]
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO metrics (kind, name, unit, min_value, max_value, interval_s, description)
               VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (kind, name) DO UPDATE SET
                 unit = EXCLUDED.unit, min_value = EXCLUDED.min_value,
                 max_value = EXCLUDED.max_value, interval_s = EXCLUDED.interval_s,
                 description = EXCLUDED.description""",
            rows,
        )
