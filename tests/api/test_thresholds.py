"""/thresholds: environment staff and operators edit rules, every staff role reads them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ioc_api import create_app
from ioc_api.routes import thresholds
from tests.conftest import api_key_headers

NEW = {
    "name": "PM2.5 daily, tighter", "kind": "air_quality_station", "metric": "pm25",
    "scope_type": "device", "scope_value": "aq-001", "comparison": "above",
    "window": "24h_mean", "levels": {"warning": 40, "critical": 80}, "clear_level": 35,
    "active_hours": [{"start": "06:00", "end": "22:00"}], "reason": "school nearby",
}  # fmt: skip


@pytest.fixture
def api(db_settings, conn):
    ensure_tenant(conn, "sonnmt", "Sở Nông nghiệp và Môi trường")
    ensure_tenant(conn, "sxd", "Sở Xây dựng")
    upsert_device(conn, DeviceIn(id="aq-001", kind="air_quality_station", tenant_id="sonnmt",
                                 lat=20.86, lon=106.60))  # fmt: skip
    app = create_app(db_settings)
    app.include_router(thresholds.router)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def staff(conn):
    return api_key_headers(conn, "environment_staff")


def test_viewers_read_but_cannot_write(api, conn, staff):
    viewer = api_key_headers(conn, "viewer")
    seeded = api.get("/thresholds", headers=viewer).json()
    assert {r["metric"] for r in seeded} >= {"pm25", "pm10", "o3", "co", "no2", "so2"}
    first = seeded[0]["id"]
    assert api.get(f"/thresholds/{first}", headers=viewer).status_code == 200
    assert api.post("/thresholds", json=NEW, headers=viewer).status_code == 403
    patch = {"reason": "x" * 5, "min_duration_s": 60}
    assert api.patch(f"/thresholds/{first}", json=patch, headers=viewer).status_code == 403
    assert api.delete(f"/thresholds/{first}?reason=nope", headers=viewer).status_code == 403
    agency = api_key_headers(conn, "agency_admin", "sxd")
    assert api.post("/thresholds", json=NEW, headers=agency).status_code == 403
    assert api.get("/thresholds", headers=api_key_headers(conn, "open_data")).status_code == 403
    assert api.get("/thresholds").status_code == 401


def test_staff_create_update_disable_with_versions_and_audit(api, conn, staff):
    created = api.post("/thresholds", json=NEW, headers=staff)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["version"] == 1 and rule["active_hours"][0]["start"] == "06:00:00"
    rid = rule["id"]
    patch = {"reason": "parents asked for earlier warnings", "levels": {"advisory": 30,
             "warning": 40, "critical": 80}, "clear_level": 25}  # fmt: skip
    updated = api.patch(f"/thresholds/{rid}", json=patch, headers=staff)
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2
    operator = api_key_headers(conn, "operator")
    disabled = api.delete(f"/thresholds/{rid}", params={"reason": "station moved"},
                          headers=operator)  # fmt: skip
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    again = api.delete(f"/thresholds/{rid}", params={"reason": "twice"}, headers=operator)
    assert again.json()["version"] == 3  # already disabled: no new version
    assert api.get(f"/thresholds/{rid}", headers=staff).json()["enabled"] is False
    assert [r["id"] for r in api.get("/thresholds", params={"enabled": False},
                                     headers=staff).json()] == [rid]  # fmt: skip

    versions = api.get(f"/thresholds/{rid}/versions", headers=staff).json()
    assert [(v["version"], v["change"], v["reason"]) for v in versions] == [
        (1, "create", "school nearby"),
        (2, "update", "parents asked for earlier warnings"),
        (3, "disable", "station moved"),
    ]
    assert versions[0]["changed_by"].startswith("key:")
    assert versions[1]["rule"]["levels"]["advisory"] == 30
    audit = conn.execute(
        "SELECT role, action, resource_id FROM audit_log WHERE resource = 'threshold_rule' "
        "ORDER BY id"
    ).fetchall()
    assert audit == [("environment_staff", "create", str(rid)),
                     ("environment_staff", "update", str(rid)),
                     ("operator", "disable", str(rid))]  # fmt: skip


def test_invalid_rules_answer_422_problems_with_field_paths(api, staff):
    def errors(response):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        return {e["path"] for e in response.json()["errors"]}

    bad_order = {**NEW, "levels": {"warning": 80, "critical": 40}}
    assert "body.levels" in errors(api.post("/thresholds", json=bad_order, headers=staff))
    wrong_metric = {**NEW, "metric": "water_level"}
    assert "body.metric" in errors(api.post("/thresholds", json=wrong_metric, headers=staff))
    bad_window = {**NEW, "window": "3h_mean"}
    assert "body.window" in errors(api.post("/thresholds", json=bad_window, headers=staff))
    no_reason = {k: v for k, v in NEW.items() if k != "reason"}
    assert "body.reason" in errors(api.post("/thresholds", json=no_reason, headers=staff))
    ghost = {**NEW, "scope_value": "aq-999"}
    assert "body.scope_value" in errors(api.post("/thresholds", json=ghost, headers=staff))

    rid = api.post("/thresholds", json=NEW, headers=staff).json()["id"]
    too_high = {"reason": "try", "clear_level": 50}
    path = errors(api.patch(f"/thresholds/{rid}", json=too_high, headers=staff))
    assert "body.clear_level" in path
    assert "body.reason" in errors(api.patch(f"/thresholds/{rid}", json={}, headers=staff))
    assert api.delete(f"/thresholds/{rid}", headers=staff).status_code == 422  # reason needed
    missing = api.get("/thresholds/999999", headers=staff)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_filters_and_tenant_bound_readers(api, conn, staff):
    api.post("/thresholds", json=NEW, headers=staff)
    by_metric = api.get("/thresholds", params={"metric": "pm25", "scope_type": "device"},
                        headers=staff).json()  # fmt: skip
    assert [(r["metric"], r["scope_value"]) for r in by_metric] == [("pm25", "aq-001")]
    other_agency = api_key_headers(conn, "viewer", "sxd")
    seen = api.get("/thresholds", params={"metric": "pm25"}, headers=other_agency).json()
    assert all(r["scope_type"] != "device" for r in seen)  # another tenant's device
    rid = by_metric[0]["id"]
    assert api.get(f"/thresholds/{rid}", headers=other_agency).status_code == 404
    owner = api_key_headers(conn, "viewer", "sonnmt")
    assert api.get(f"/thresholds/{rid}", headers=owner).status_code == 200


def test_a_gauge_created_through_the_api_arrives_with_its_flood_rule(db_settings, conn):
    from fastapi.testclient import TestClient

    from devices.registry import ensure_tenant
    from ioc_api import create_app
    from tests.conftest import api_key_headers

    ensure_tenant(conn, "sonnmt", "Environment")
    gauge = {
        "id": "wl-cam", "kind": "water_level_gauge", "tenant_id": "sonnmt",
        "lat": 20.831912, "lon": 106.67521,
        "levels": {"reference_level": 0, "alert_level": 250, "danger_level": 400},
    }  # fmt: skip
    with TestClient(create_app(db_settings), headers=api_key_headers(conn)) as api:
        assert api.post("/devices", json=gauge).status_code == 201
        rules = api.get("/thresholds", params={"kind": "water_level_gauge"}).json()
    items = rules["items"] if isinstance(rules, dict) else rules
    mine = [r for r in items if r["scope_value"] == "wl-cam"]
    assert len(mine) == 1
    assert mine[0]["levels"] == {"warning": 250.0, "critical": 400.0}
