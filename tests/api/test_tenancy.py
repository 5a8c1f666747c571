"""Tenant isolation and roles: an agency sees and manages its own devices only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ioc_api import create_app
from tests.conftest import api_key_headers

NEW_LIGHT = {"id": "sl-new", "kind": "street_light", "tenant_id": "sxd",
             "lat": 20.8619, "lon": 106.5962}  # fmt: skip


@pytest.fixture
def api(db_settings, conn):
    ensure_tenant(conn, "sxd", "Sở Xây dựng")
    ensure_tenant(conn, "sonnmt", "Sở Nông nghiệp và Môi trường")
    upsert_device(conn, DeviceIn(id="sl-001", kind="street_light", tenant_id="sxd",
                                 lat=20.84, lon=106.68))  # fmt: skip
    upsert_device(conn, DeviceIn(id="aq-001", kind="air_quality_station", tenant_id="sonnmt",
                                 lat=20.86, lon=106.60))  # fmt: skip
    with TestClient(create_app(db_settings)) as client:
        yield client


def as_(conn, role, tenant=None):
    return api_key_headers(conn, role, tenant)


def test_nothing_but_health_answers_without_credentials(api):
    assert api.get("/health").status_code == 200
    for path in ("/devices", "/devices/sl-001", "/devices/sl-001/telemetry",
                 "/devices/sl-001/commands"):  # fmt: skip
        response = api.get(path)
        assert response.status_code == 401, path
        assert response.headers["content-type"] == "application/problem+json"


def test_an_agency_sees_only_its_own_devices(api, conn):
    lights = as_(conn, "agency_admin", "sxd")
    assert [d["id"] for d in api.get("/devices", headers=lights).json()["items"]] == ["sl-001"]
    assert api.get("/devices/sl-001", headers=lights).status_code == 200
    # Another agency's device answers exactly like one that does not exist.
    other = api.get("/devices/aq-001", headers=lights)
    missing = api.get("/devices/aq-999", headers=lights)
    assert other.status_code == missing.status_code == 404
    assert api.get("/devices/aq-001/telemetry", headers=lights).status_code == 404
    assert api.get("/devices", params={"tenant": "sonnmt"}, headers=lights).status_code == 403


def test_an_agency_manages_only_its_own_devices(api, conn):
    lights = as_(conn, "agency_admin", "sxd")
    assert api.post("/devices", json=NEW_LIGHT, headers=lights).status_code == 201
    foreign = {**NEW_LIGHT, "id": "aq-new", "kind": "air_quality_station", "tenant_id": "sonnmt"}
    assert api.post("/devices", json=foreign, headers=lights).status_code == 403
    assert api.patch("/devices/aq-001", json={"address": "x"}, headers=lights).status_code == 404
    assert api.delete("/devices/aq-001", headers=lights).status_code == 404
    give_away = api.patch("/devices/sl-new", json={"tenant_id": "sonnmt"}, headers=lights)
    assert give_away.status_code in (403, 422)
    command = {"name": "reboot", "args": {}, "ttl_s": 600}
    assert api.post("/devices/aq-001/commands", json=command, headers=lights).status_code == 404
    assert api.post("/devices/sl-001/commands", json=command, headers=lights).status_code == 201
    assert api.post("/devices/import", content=b"id\n", headers=lights).status_code == 403


def test_roles(api, conn):
    operator, viewer = as_(conn, "operator"), as_(conn, "viewer")
    assert len(api.get("/devices", headers=operator).json()["items"]) == 2
    assert len(api.get("/devices", headers=viewer).json()["items"]) == 2
    assert api.post("/devices", json=NEW_LIGHT, headers=viewer).status_code == 403
    assert api.get("/devices", headers=as_(conn, "open_data")).status_code == 403
    assert api.post("/devices", json=NEW_LIGHT, headers=operator).status_code == 201


def test_every_write_is_in_the_audit_log(api, conn):
    lights = as_(conn, "agency_admin", "sxd")
    api.post("/devices", json=NEW_LIGHT, headers=lights)
    api.patch("/devices/sl-new", json={"address": "Lạch Tray"}, headers=lights)
    api.delete("/devices/sl-new", headers=lights)
    rows = conn.execute(
        "SELECT actor, role, action, resource_id, before->>'address', after->>'address' "
        "FROM audit_log ORDER BY id"
    ).fetchall()
    actor = rows[0][0]
    assert actor.startswith("key:")
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("agency_admin", "create", "sl-new"),
        ("agency_admin", "update", "sl-new"),
        ("agency_admin", "deleted", "sl-new"),
    ]
    assert rows[1][4:] == (None, "Lạch Tray")  # before and after of the update
