"""Serving: the loop's step trains, stores and warns; GET /forecasts returns C5."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient

from analytics.forecast.service import ModelCache, run_forecasts
from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ioc_api import create_app
from tests.conftest import api_key_headers

HOUR = timedelta(hours=1)
NOW = datetime.now(UTC).replace(minute=20, second=0, microsecond=0)
DAYS = 21


def add_station(conn: psycopg.Connection, device_id: str, tenant: str) -> int:
    ensure_tenant(conn, tenant, tenant)
    upsert_device(conn, DeviceIn(id=device_id, kind="air_quality_station", tenant_id=tenant,
                                 lat=20.85, lon=106.68))  # fmt: skip
    return int(conn.execute("SELECT key FROM devices WHERE id = %s", (device_id,)).fetchone()[0])


def write_pm25(conn: psycopg.Connection, key: int, values: np.ndarray, last: datetime) -> None:
    """Hourly means as the rollup writes them (bucket = hour start), ending before ``last``."""
    metric = conn.execute(
        "SELECT id FROM metrics WHERE kind = 'air_quality_station' AND name = 'pm25'"
    ).fetchone()[0]
    first = last - len(values) * HOUR
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO telemetry_1h (bucket, device_key, metric_id, min, max, sum, count,
                                         last, last_time)
               VALUES (%s, %s, %s, %s, %s, %s, 1, %s, %s)
               ON CONFLICT (device_key, metric_id, bucket) DO UPDATE
               SET sum = excluded.sum, min = excluded.min, max = excluded.max,
                   last = excluded.last""",
            [(first + i * HOUR, key, metric, v, v, v, v, first + i * HOUR)
             for i, v in enumerate(values)],
        )  # fmt: skip


def smog(level: float, hours: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h = np.arange(hours)
    return np.maximum(level + 0.3 * level * np.sin(2 * np.pi * h / 24) + rng.normal(0, 4, hours), 1)


@pytest.fixture
def served(db_settings, conn):
    settings = db_settings.model_copy(update={"forecast_max_rows": 6_000})
    last = NOW.replace(minute=0)
    for i, device in enumerate(("aq-smog", "aq-clean")):
        key = add_station(conn, device, "sonnmt")
        write_pm25(conn, key, smog(120.0 if device == "aq-smog" else 15.0, DAYS * 24, i), last)
    cache = ModelCache()
    report = run_forecasts(conn, settings, cache, now=NOW)
    return settings, cache, report, last


def test_loop_step_trains_stores_and_warns(served, conn) -> None:
    _, _, report, last = served
    assert len(report.trained) == 1 and report.trained[0].startswith("pm25-")
    assert report.issued["pm25"] == 2 * 48 + 2 * 48  # PM2.5 and its VN_AQI, two stations
    assert "traffic_volume" in report.skipped  # no cameras: said, not failed
    issued = conn.execute("SELECT DISTINCT issued_at FROM forecasts").fetchall()
    assert issued == [(last,)]  # the origin is the last complete hour
    alerts = conn.execute(
        "SELECT device_id, severity, state, labels, title FROM alerts WHERE kind = 'forecast'"
    ).fetchall()
    assert len(alerts) == 1
    device, severity, state, labels, title = alerts[0]
    assert (device, state) == ("aq-smog", "open") and severity in ("warning", "critical")
    assert labels["forecast"] == "true" and labels["model_version"] == report.trained[0]
    assert title == "AQI forecast above 150 within 6 h at aq-smog"


def test_warning_resolves_when_the_forecast_clears(served, conn) -> None:
    settings, cache, _, last = served
    key = conn.execute("SELECT key FROM devices WHERE id = 'aq-smog'").fetchone()[0]
    write_pm25(conn, key, np.full(24, 8.0), last + HOUR)  # a clean day blew the smog away
    report = run_forecasts(conn, settings, cache, now=NOW + HOUR)
    assert report.trained == []  # not retrained within IOC_FORECAST_RETRAIN_S
    state = conn.execute(
        "SELECT state FROM alerts WHERE kind = 'forecast' AND device_id = 'aq-smog'"
    ).fetchone()[0]
    assert state == "resolved"


def test_get_forecasts_per_contract(served, conn) -> None:
    settings, _, report, last = served
    with TestClient(create_app(settings), headers=api_key_headers(conn, "viewer")) as client:
        body = client.get("/forecasts", params={"device_id": "aq-smog", "metric": "pm25"}).json()
        aqi = client.get("/forecasts", params={"device_id": "aq-smog", "metric": "aqi"}).json()
        model = client.get(f"/forecasts/models/{body['model_version']}").json()
        missing = client.get("/forecasts", params={"device_id": "aq-smog", "metric": "water_level"})
    assert {"items", "model_version", "issued_at", "training_window", "features",
            "explanation"} <= body.keys()  # fmt: skip
    assert body["model_version"] == report.trained[0]
    assert len(body["items"]) == 48
    first = body["items"][0]
    assert datetime.fromisoformat(first["time"]) == last and first["horizon_h"] == 1.0
    assert all(i["p10"] <= i["p50"] <= i["p90"] for i in body["items"])
    assert 60 < float(np.median([i["p50"] for i in body["items"]])) < 200
    assert datetime.fromisoformat(body["training_window"]["to"]) == last
    assert body["explanation"] and body["explanation"][0]["feature"] in body["features"]
    assert aqi["items"][0]["p50"] > 150  # PM2.5 around 120 µg/m³ is VN_AQI "bad"
    assert model["seed"] == settings.forecast_seed and model["features"] == body["features"]
    assert missing.status_code == 404


def test_other_tenants_station_is_not_found(served, conn) -> None:
    settings = served[0]
    ensure_tenant(conn, "port", "port")
    headers = api_key_headers(conn, "viewer", tenant="port")
    with TestClient(create_app(settings), headers=headers) as client:
        response = client.get("/forecasts", params={"device_id": "aq-smog", "metric": "pm25"})
        anonymous = client.get("/forecasts", params={"device_id": "aq-smog", "metric": "pm25"},
                               headers={"X-API-Key": "nope"})  # fmt: skip
    assert response.status_code == 404
    assert anonymous.status_code == 401
