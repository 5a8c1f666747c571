"""The HTTP API of commands and liveness over a real database, errors as problem+json."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ioc_api import create_app

PROBLEM = "application/problem+json"
DAY = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def client(db_settings, conn, operator_headers):
    ensure_tenant(conn, "sxd", "Sở Xây dựng")
    upsert_device(conn, DeviceIn(id="sl-001", kind="street_light", tenant_id="sxd"))
    upsert_device(conn, DeviceIn(id="cam-001", kind="traffic_camera", tenant_id="sxd"))
    with TestClient(create_app(db_settings), headers=operator_headers) as test_client:
        yield test_client


def test_a_command_is_queued_and_can_be_read_back(client):
    response = client.post("/devices/sl-001/commands",
                           json={"name": "dim", "args": {"level": 40}, "ttl_s": 600})  # fmt: skip
    assert response.status_code == 201
    created = response.json()
    assert created["state"] == "queued" and created["args"] == {"level": 40}
    assert created["device_id"] == "sl-001" and created["attempts"] == 0
    assert client.get(f"/commands/{created['id']}").json() == created
    assert client.get("/devices/sl-001/commands").json() == {"items": [created]}


def test_edge_node_config_with_counting_lines(client):
    line = {"name": "north", "start": [0.0, 0.5], "end": [1.0, 0.5], "in_side": "right"}
    body = {"name": "update_config", "args": {"counting_lines": [line], "fps": 10}}
    response = client.post("/devices/cam-001/commands", json=body)
    assert response.status_code == 201 and response.json()["args"] == body["args"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": "dim", "args": {"level": 140}}, "body.args.level"),
        ({"name": "update_config", "args": {"fps": 5}}, "body.name"),  # not for a lamp
        ({"name": "dim", "args": {"level": 40}, "ttl_s": 0}, "body.ttl_s"),
        ({"name": "dim", "args": {"level": 40}, "priority": 1}, "body.priority"),
    ],
)
def test_invalid_commands_are_422_problems_naming_the_field(client, body, path):
    response = client.post("/devices/sl-001/commands", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert path in [e["path"] for e in response.json()["errors"]]


def test_unknown_device_and_command_are_404_problems(client):
    response = client.post("/devices/sl-404/commands", json={"name": "reboot"})
    assert response.status_code == 404 and response.json()["device_id"] == "sl-404"
    assert client.get("/devices/sl-404/commands").status_code == 404
    missing = client.get(f"/commands/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert client.get("/commands/not-a-uuid").status_code == 422


def test_status_history_and_uptime(client, conn):
    for hours, state, source in [(-1, "online", "device"), (6, "offline", "will"),
                                 (12, "online", "device")]:  # fmt: skip
        conn.execute(
            "INSERT INTO device_status_events (device_id, time, state, source) "
            "VALUES ('sl-001', %s, %s, %s)",
            (DAY + timedelta(hours=hours), state, source),
        )
    history = client.get("/devices/sl-001/status-history").json()
    assert [(e["state"], e["source"]) for e in history["items"]] == [
        ("online", "device"), ("offline", "will"), ("online", "device"),
    ]  # fmt: skip
    window = {"since": DAY.isoformat(), "until": (DAY + timedelta(days=1)).isoformat()}
    report = client.get("/devices/sl-001/uptime", params=window).json()
    assert report["online_s"] == 18 * 3600 and report["offline_s"] == 6 * 3600
    assert report["ratio"] == 0.75
    agency = client.get("/tenants/sxd/uptime", params=window).json()
    assert agency["devices"] == 2 and agency["unknown_s"] == 24 * 3600


def test_uptime_windows_must_be_aware_and_ordered(client):
    naive = client.get("/devices/sl-001/uptime", params={"since": "2026-03-01T00:00:00"})
    assert naive.status_code == 422
    backwards = {"since": DAY.isoformat(), "until": (DAY - timedelta(hours=1)).isoformat()}
    response = client.get("/devices/sl-001/uptime", params=backwards)
    assert response.status_code == 422 and response.json()["errors"][0]["path"] == "query.until"
    assert client.get("/devices/sl-404/uptime").status_code == 404
    default = client.get("/devices/sl-001/uptime").json()  # the last 24 hours
    assert default["unknown_s"] == pytest.approx(86_400, abs=5) and default["ratio"] is None
