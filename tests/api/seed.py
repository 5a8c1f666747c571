"""Two tenants with a little of everything, for the API tests (no fixture file of its own, so
other engineers' tests in this folder cannot collide with it).

alpha (air quality) and bravo (traffic): each owns a device with readings, rollups, a latest
value, a dead letter and an alert; every id carries its tenant's name, so a leak is a string
search away.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from analytics.rollups import refresh_until_caught_up
from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ioc_api.services.latest import rebuild_latest
from ioc_core.settings import Settings

ALPHA_DEVICE = "aq-alpha-1"
BRAVO_DEVICE = "cam-bravo-1"
COMMUNE = "31189"  # any commune both devices share, so commune views mix tenants


def minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def seed(conn: psycopg.Connection, settings: Settings, *, minutes: int = 180) -> datetime:
    """Readings every minute for ``minutes`` up to now; returns the newest reading's time."""
    commune = conn.execute("SELECT code FROM communes ORDER BY code LIMIT 1").fetchone()[0]
    ensure_tenant(conn, "alpha", "Alpha environment agency")
    ensure_tenant(conn, "bravo", "Bravo traffic company")
    upsert_device(conn, DeviceIn(id=ALPHA_DEVICE, kind="air_quality_station",
                                 tenant_id="alpha", commune_code=commune, lat=20.86,
                                 lon=106.68, address="alpha street"))  # fmt: skip
    upsert_device(conn, DeviceIn(id=BRAVO_DEVICE, kind="traffic_camera", tenant_id="bravo",
                                 commune_code=commune, lat=20.85, lon=106.69,
                                 address="bravo street"))  # fmt: skip
    end = minute(datetime.now(UTC)) - timedelta(minutes=1)
    times = [end - timedelta(minutes=i) for i in range(minutes)]
    rows = []
    for device, metrics in ((ALPHA_DEVICE, ("pm25", "pm10")),
                            (BRAVO_DEVICE, ("count_car_in", "count_motorbike_in"))):  # fmt: skip
        for metric in metrics:
            for i, t in enumerate(times):
                rows.append((t, device, metric, float(i % 50 + 10)))
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO telemetry (time, device_key, metric_id, value)
               SELECT %s, d.key, m.id, %s FROM devices d JOIN metrics m ON m.kind = d.kind
               WHERE d.id = %s AND m.name = %s""",
            [(t, v, d, m) for t, d, m, v in rows],
        )
    refresh_until_caught_up(conn, settings, now=end + timedelta(minutes=1))
    rebuild_latest(conn, since=end - timedelta(days=1))
    conn.execute(
        """INSERT INTO aqi_hourly (hour, device_key, aqi, dominant)
           SELECT h, (SELECT key FROM devices WHERE id = %s), 80, 'pm25'
           FROM generate_series(date_trunc('hour', now()) - interval '5 hours',
                                date_trunc('hour', now()), interval '1 hour') h""",
        (ALPHA_DEVICE,),
    )
    conn.execute(
        """INSERT INTO dead_letters (topic, tenant_id, device_id, reason, detail, payload)
           VALUES ('ioc/v1/alpha/aq-alpha-1/telemetry', 'alpha', 'aq-alpha-1', 'bad_json',
                   'alpha payload is not JSON', 'alpha{'),
                  ('ioc/v1/bravo/cam-bravo-1/telemetry', 'bravo', 'cam-bravo-1', 'bad_json',
                   'bravo payload is not JSON', 'bravo{'),
                  ('/json/SECRETbravoKEY/cam-bravo-1/attrs', 'bravo', 'cam-bravo-1',
                   'unknown_metric', 'in /json/SECRETbravoKEY/cam-bravo-1/attrs: no metric x',
                   '{"x": 1}')"""
    )
    conn.execute(
        """INSERT INTO threshold_rules (name, metric, kind, scope_type, scope_value, comparison,
                                        levels, "window")
           VALUES ('bravo car rule', 'count_car_in', 'traffic_camera', 'tenant', 'bravo',
                   'above', '{"warning": 100}', 'instant')"""
    )
    conn.execute(
        """INSERT INTO commands (device_id, name, expires_at)
           VALUES (%s, 'reboot', now() + interval '1 hour')""",
        (BRAVO_DEVICE,),
    )
    for device, tenant in ((ALPHA_DEVICE, "alpha"), (BRAVO_DEVICE, "bravo")):
        conn.execute(
            """INSERT INTO alerts (kind, severity, device_id, tenant_id, title, source)
               VALUES ('connectivity', 'warning', %s, %s, %s, 'test')""",
            (device, tenant, f"{device} offline"),
        )
    return end
