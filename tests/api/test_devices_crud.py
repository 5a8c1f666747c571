"""Registry CRUD and CSV import over HTTP: status codes and problem+json bodies."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from devices.registry import DeviceIn, upsert_device
from ioc_api import create_app

AQ = {"id": "aq-001", "kind": "air_quality_station", "tenant": "sonnmt",
      "commune": "An Biên", "lat": 20.831912, "lon": 106.67521}  # fmt: skip
CSV = (
    "id,kind,tenant,lat,lon,reference_level,alert_level,danger_level\n"
    "wl-001,water_level_gauge,sonnmt,20.831912,106.67521,0,250,400\n"
    "wl-002,water_level_gauge,sonnmt,21.03,105.85,0,250,400\n"
    "wl-003,water_level_gauge,sonnmt,20.831912,106.67521,0,400,250\n"
)


@pytest.fixture
def client(db_settings, conn, operator_headers):
    conn.execute("INSERT INTO tenants (id, name) VALUES ('sonnmt', 'Environment')")
    with TestClient(create_app(db_settings), headers=operator_headers) as test_client:
        yield test_client


def is_problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def test_create_read_update_delete(client):
    created = client.post("/devices", json=AQ)
    assert created.status_code == 201, created.text
    assert created.json()["commune_code"] == "11407"
    assert client.get("/devices/aq-001").json()["tenant"] == "sonnmt"
    patched = client.patch("/devices/aq-001", json={"firmware": "2.0", "tags": ["roadside"]})
    assert patched.status_code == 200
    assert (patched.json()["firmware"], patched.json()["lat"]) == ("2.0", AQ["lat"])
    deleted = client.delete("/devices/aq-001")
    assert deleted.json() == {"id": "aq-001", "outcome": "deleted"}
    is_problem(client.get("/devices/aq-001"), 404)
    is_problem(client.delete("/devices/aq-001"), 404)


def test_create_problems(client):
    client.post("/devices", json=AQ)
    assert is_problem(client.post("/devices", json=AQ), 409)["device_id"] == "aq-001"
    body = is_problem(client.post("/devices", json={**AQ, "id": "aq-2", "kind": "radon",
                                                    "lat": 21.03, "lon": 105.85}), 422)  # fmt: skip
    assert [e["path"] for e in body["errors"]] == ["kind", "lat/lon"]
    typo = is_problem(client.post("/devices", json={**AQ, "adress": "x"}), 422)
    assert typo["errors"][0]["path"] == "body.adress"


def test_patch_is_checked(client):
    client.post("/devices", json=AQ)
    body = is_problem(client.patch("/devices/aq-001", json={"lat": 19.8, "lon": 107.5}), 422)
    assert body["errors"][0]["path"] == "lat/lon" and "outside Hai Phong" in body["detail"]
    assert client.get("/devices/aq-001").json()["lat"] == AQ["lat"]


def test_import_csv_body_reports_every_bad_row(client):
    response = client.post("/devices/import", content=CSV, headers={"content-type": "text/csv"})
    body = is_problem(response, 422)
    assert [(e["line"], e["column"]) for e in body["errors"]] == [(3, "lat/lon"),
                                                                  (4, "danger_level")]  # fmt: skip
    assert client.get("/devices").json()["total"] == 0


def test_import_multipart_file(client):
    good = "".join(line + "\n" for line in CSV.splitlines()[:2])
    response = client.post("/devices/import", files={"file": ("d.csv", good, "text/csv")})
    assert response.status_code == 200 and response.json() == {"created": 1, "updated": 0}
    levels = client.get("/devices/wl-001").json()["levels"]
    assert levels == {"reference_level": 0, "alert_level": 250, "danger_level": 400, "unit": "cm"}
    again = client.post("/devices/import?update=true", content=good.replace(",400", ",450"))
    assert again.json() == {"created": 0, "updated": 1}
    is_problem(client.post("/devices/import", json={"a": 1}), 415)


def test_list_keeps_its_shape_and_pages(client, conn):
    for n in range(250):
        upsert_device(conn, DeviceIn(id=f"aq-{n:03d}", kind="air_quality_station",
                                     tenant_id="sonnmt", lat=20.83, lon=106.67))  # fmt: skip
    everything = client.get("/devices").json()
    assert everything["total"] == 250 and len(everything["items"]) == 250
    assert everything["next_after"] is None
    first = client.get("/devices", params={"limit": 100}).json()
    assert len(first["items"]) == 100 and first["next_after"] == "aq-099"
    last = client.get("/devices", params={"limit": 100, "after": "aq-199"}).json()
    assert last["items"][0]["id"] == "aq-200" and last["next_after"] is None
    assert client.get("/devices", params={"commune": "Hồng Bàng"}).json()["total"] == 0
    is_problem(client.get("/devices", params={"commune": "Atlantis"}), 422)
    is_problem(client.get("/devices", params={"status": "sleeping"}), 422)
