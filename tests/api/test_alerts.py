"""/alerts (C4): listing with filters and cursors, tenant isolation, the lifecycle with its
audit trail, comments, assignment; /thresholds/preview replays a rule over the rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from analytics.alerts import Finding, apply_findings
from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ioc_api import create_app
from tests.conftest import api_key_headers

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def finding(device: str, key: str, severity: str = "warning", kind: str = "threshold"):
    return Finding(kind=kind, device_id=device, key=key, active=True, severity=severity,
                   time=T0, title=f"{device} {key}", reason=f"{key} above its level",
                   metric="pm25", value=120.0, threshold=100.0)  # fmt: skip


@pytest.fixture
def api(db_settings, conn):
    ensure_tenant(conn, "sonnmt", "Sở Nông nghiệp và Môi trường")
    ensure_tenant(conn, "sxd", "Sở Xây dựng")
    for device, tenant, commune in (("aq-001", "sonnmt", "11407"), ("aq-002", "sonnmt", None),
                                    ("aq-900", "sxd", None)):  # fmt: skip
        upsert_device(conn, DeviceIn(id=device, kind="air_quality_station", tenant_id=tenant,
                                     commune_code=commune, lat=20.86, lon=106.60))  # fmt: skip
    apply_findings(conn, [finding("aq-001", "rule:1"), finding("aq-001", "rule:2", "critical"),
                          finding("aq-002", "rule:1"), finding("aq-900", "rule:1")],
                   source="engine")  # fmt: skip
    with TestClient(create_app(db_settings)) as client:
        yield client


@pytest.fixture
def operator(conn):
    return api_key_headers(conn, "operator")


def ids(page: dict) -> list[int]:
    return [a["id"] for a in page["items"]]


def test_list_filters_and_cursor_pagination(api, operator):
    everything = api.get("/alerts", headers=operator).json()
    assert len(everything["items"]) == 4 and everything["next_cursor"] is None
    first = everything["items"][0]
    fields = ("id kind severity state device_id tenant_id commune_code title reason metric "
              "value threshold opened_at updated_at acknowledged_at acknowledged_by "
              "resolved_at closed_at assignee escalation_level labels")  # fmt: skip
    for field in fields.split():
        assert field in first
    critical = api.get("/alerts?severity=critical", headers=operator).json()
    assert [(a["device_id"], a["key"]) for a in critical["items"]] == [("aq-001", "rule:2")]
    assert len(api.get("/alerts?commune=11407", headers=operator).json()["items"]) == 2
    assert len(api.get("/alerts?tenant=sxd", headers=operator).json()["items"]) == 1
    assert api.get("/alerts?since=2999-01-01T00:00:00Z", headers=operator).json()["items"] == []
    page1 = api.get("/alerts?limit=3", headers=operator).json()
    page2 = api.get(f"/alerts?limit=3&cursor={page1['next_cursor']}", headers=operator).json()
    assert ids(page1) + ids(page2) == ids(everything) and page2["next_cursor"] is None
    bad = api.get("/alerts?cursor=garbage", headers=operator)
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
    assert api.get("/alerts?state=gone", headers=operator).status_code == 422


def test_tenants_see_only_their_alerts(api, conn):
    agency = api_key_headers(conn, "agency_admin", "sxd")
    mine = api.get("/alerts", headers=agency).json()["items"]
    assert [a["device_id"] for a in mine] == ["aq-900"]
    assert api.get("/alerts?tenant=sonnmt", headers=agency).status_code == 403
    other = api.get("/alerts?tenant=sonnmt", headers=api_key_headers(conn, "operator")).json()
    theirs = other["items"][0]["id"]
    assert api.get(f"/alerts/{theirs}", headers=agency).status_code == 404
    assert api.post(f"/alerts/{theirs}/acknowledge", json={"note": "x"},
                    headers=agency).status_code == 404  # fmt: skip
    assert api.post(f"/alerts/{mine[0]['id']}/acknowledge", json={"note": "on it"},
                    headers=agency).status_code == 200  # fmt: skip


def test_lifecycle_comments_assignment_and_audit(api, conn, operator):
    alert = api.get("/alerts?severity=critical", headers=operator).json()["items"][0]
    url = f"/alerts/{alert['id']}"
    viewer = api_key_headers(conn, "viewer")
    assert api.get(url, headers=viewer).status_code == 200
    assert api.post(f"{url}/acknowledge", json={}, headers=viewer).status_code == 403
    acked = api.post(f"{url}/acknowledge", json={"note": "crew sent"}, headers=operator).json()
    me = acked["acknowledged_by"]  # the API key's principal name
    assert acked["state"] == "acknowledged" and me.startswith("key:")
    again = api.post(f"{url}/acknowledge", json={"note": ""}, headers=operator)
    assert again.status_code == 409 and "acknowledged" in again.json()["detail"]
    assert api.post(f"{url}/assign", json={"assignee": "lan.nguyen"},
                    headers=operator).json()["assignee"] == "lan.nguyen"  # fmt: skip
    posted = api.post(f"{url}/comments", json={"text": "sensor cleaned"}, headers=operator)
    assert posted.status_code == 201 and posted.json()["action"] == "comment"
    assert api.post(f"{url}/comments", json={"text": ""}, headers=operator).status_code == 422
    resolved = api.post(f"{url}/resolve", json={"note": "fixed"}, headers=operator).json()
    assert resolved["state"] == "resolved" and resolved["resolved_at"]
    closed = api.post(f"{url}/close", json={"note": "done"}, headers=operator).json()
    assert closed["state"] == "closed" and closed["closed_at"]
    assert api.post(f"{url}/resolve", json={}, headers=operator).status_code == 409
    events = [(e["actor"], e["action"], e["note"]) for e in closed["events"]]
    assert events == [
        ("engine", "open", None),
        (me, "acknowledge", "crew sent"),
        (me, "assign", None),
        (me, "comment", "sensor cleaned"),
        (me, "resolve", "fixed"),
        (me, "close", "done"),
    ]
    ack = closed["events"][1]
    assert ack["before"]["state"] == "open" and ack["after"]["state"] == "acknowledged"
    logged = conn.execute("SELECT action FROM audit_log WHERE resource = 'alert' ORDER BY id")
    assert [r[0] for r in logged] == ["acknowledge", "assign", "comment", "resolve", "close"]
    assert api.get("/alerts/999999", headers=operator).status_code == 404


def test_preview_replays_a_rule_over_the_rollups(api, conn):
    key = conn.execute("SELECT key FROM devices WHERE id = 'aq-001'").fetchone()[0]
    metric = conn.execute("SELECT id FROM metrics WHERE kind = 'air_quality_station' "
                          "AND name = 'pm25'").fetchone()[0]  # fmt: skip
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=2)
    # Two episodes above 100 (one of them above 200), the rest at 30.
    values = [30.0] * 60 + [150.0] * 10 + [30.0] * 60 + [250.0] * 5 + [30.0] * 30
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO telemetry_1m (bucket, device_key, metric_id, min, max, sum, count,
                   last, last_time) VALUES (%s, %s, %s, %s, %s, %s, 1, %s, %s)""",
            [(start + timedelta(minutes=i), key, metric, v, v, v, v, start + timedelta(minutes=i))
             for i, v in enumerate(values)],
        )  # fmt: skip
    staff = api_key_headers(conn, "environment_staff")
    rule = {
        "name": "PM2.5 instant",
        "kind": "air_quality_station",
        "metric": "pm25",
        "scope_type": "kind",
        "comparison": "above",
        "levels": {"warning": 100, "critical": 200},
        "reason": "what would it cost?",
    }
    got = api.post("/thresholds/preview", json=rule, headers=staff)
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["days"], body["alerts"], body["devices"]) == (7, 2, 1)
    assert body["by_severity"] == {"warning": 1, "critical": 1}
    assert [s["device_id"] for s in body["sample"]] == ["aq-001", "aq-001"]
    bad = api.post("/thresholds/preview", json={**rule, "metric": "nope"}, headers=staff)
    assert bad.status_code == 422 and "metric" in bad.text
    viewer = api_key_headers(conn, "viewer")
    assert api.post("/thresholds/preview", json=rule, headers=viewer).status_code == 403
