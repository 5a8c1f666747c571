"""The HTTP API over a real database: devices, their status, their telemetry, its errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ioc_api import create_app


@pytest.fixture
def client(db_settings, conn, operator_headers):
    ensure_tenant(conn, "sonnmt", "Environment")
    for i, seen in enumerate([timedelta(seconds=10), timedelta(hours=2), None]):
        device = DeviceIn(
            id=f"aq-{i + 1:03d}", kind="air_quality_station", tenant_id="sonnmt",
            commune_code="11407", lat=20.8, lon=106.6,
        )  # fmt: skip
        upsert_device(conn, device)
        if seen is not None:
            conn.execute(
                "UPDATE devices SET last_seen = now() - %s WHERE id = %s", (seen, f"aq-{i + 1:03d}")
            )
    pm25 = conn.execute(
        "SELECT id FROM metrics WHERE kind='air_quality_station' AND name='pm25'"
    ).fetchone()[0]
    now = datetime.now(UTC).replace(microsecond=0)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO telemetry SELECT %s, key, %s, %s FROM devices WHERE id = 'aq-001'",
            [(now - timedelta(minutes=m), pm25, float(m)) for m in range(30)],
        )
    with TestClient(create_app(db_settings), headers=operator_headers) as test_client:
        yield test_client


def test_health_checks_the_database(client):
    assert client.get("/health").json() == {"status": "ok", "database": True}


def test_devices_list_derives_status_from_freshness(client):
    body = client.get("/devices").json()
    assert body["total"] == 3
    status = {d["id"]: d["status"] for d in body["items"]}
    assert status == {"aq-001": "online", "aq-002": "offline", "aq-003": "never_seen"}
    first = body["items"][0]
    assert first["commune_name"] == "Phường An Biên" and first["tenant"] == "sonnmt"


def test_device_detail_and_unknown_device_problem(client):
    assert client.get("/devices/aq-002").json()["status"] == "offline"
    response = client.get("/devices/aq-404")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["device_id"] == "aq-404"


def test_telemetry_newest_points_oldest_first(client):
    body = client.get("/devices/aq-001/telemetry", params={"limit": 5}).json()
    assert body["metric"] == "pm25" and body["unit"] == "ug/m3"  # the kind's first metric
    assert [p["value"] for p in body["points"]] == [4.0, 3.0, 2.0, 1.0, 0.0]


def test_telemetry_time_window_and_metric(client):
    since = (datetime.now(UTC) - timedelta(minutes=10, seconds=30)).isoformat()
    body = client.get("/devices/aq-001/telemetry", params={"metric": "pm25", "since": since}).json()
    assert len(body["points"]) == 11
    assert client.get("/devices/aq-001/telemetry", params={"metric": "o3"}).json()["points"] == []


def test_telemetry_validation_errors_name_the_field(client):
    response = client.get("/devices/aq-001/telemetry", params={"limit": 0})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["path"] == "query.limit"
    missing = client.get("/devices/aq-001/telemetry", params={"metric": "radon"})
    assert missing.status_code == 404 and "radon" in missing.json()["detail"]
