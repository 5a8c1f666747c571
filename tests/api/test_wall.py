"""The wall's endpoints over a real database: the map in points and clusters, the KPI tiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from devices.registry import DeviceIn, ensure_tenant, upsert_device
from devices.registry_models import SiteLevels
from ioc_api import create_app
from ioc_api.routes.wall import aqi_class, build_map
from tests.conftest import api_key_headers

# Two groups far apart in Hai Phong: a grid of 64 columns over the city cannot merge them.
WEST = (20.86, 106.60)
EAST = (20.86, 106.95)


def add(conn: psycopg.Connection, device_id: str, kind: str, tenant: str,
        where: tuple[float, float], seen: timedelta | None) -> None:  # fmt: skip
    ensure_tenant(conn, tenant, tenant)
    upsert_device(conn, DeviceIn(id=device_id, kind=kind, tenant_id=tenant,
                                 lat=where[0], lon=where[1]))  # fmt: skip
    if seen is not None:
        conn.execute("UPDATE devices SET last_seen = now() - %s WHERE id = %s", (seen, device_id))


def alert(conn: psycopg.Connection, device_id: str, severity: str, state: str = "open") -> None:
    resolved = "now()" if state == "resolved" else "NULL"
    conn.execute(
        f"""INSERT INTO alerts (kind, severity, state, device_id, tenant_id, title, source,
                                resolved_at)
            SELECT 'threshold', %s, %s, id, tenant_id, 'test', 'test', {resolved}
            FROM devices WHERE id = %s""",
        (severity, state, device_id),
    )


@pytest.fixture
def fleet(conn: psycopg.Connection) -> psycopg.Connection:
    for i in range(6):  # west: 4 online, 2 offline
        seen = timedelta(seconds=5) if i < 4 else timedelta(hours=3)
        add(conn, f"aq-w{i}", "air_quality_station", "sonnmt", WEST, seen)
    for i in range(3):  # east: lights of another agency, never seen
        add(conn, f"sl-e{i}", "street_light", "sxd", EAST, None)
    alert(conn, "aq-w0", "warning")
    alert(conn, "aq-w1", "critical")
    alert(conn, "aq-w2", "critical", state="resolved")  # resolved: not open, not on the map
    alert(conn, "sl-e0", "advisory", state="acknowledged")
    return conn


@pytest.fixture
def client(db_settings, fleet, operator_headers):
    with TestClient(create_app(db_settings), headers=operator_headers) as test_client:
        yield test_client


def test_few_devices_come_one_by_one_with_their_status(client: TestClient) -> None:
    body = client.get("/wall/map", params={"layer": "status"}).json()
    assert body["mode"] == "points" and body["total"] == 9 and body["clusters"] == []
    status = {p["id"]: p["cls"] for p in body["points"]}
    assert status["aq-w0"] == "online" and status["aq-w5"] == "offline"
    assert status["sl-e2"] == "never_seen"
    assert [c["key"] for c in body["classes"]] == ["online", "never_seen", "offline"]


def test_alert_layer_shows_each_devices_worst_open_alert(client: TestClient) -> None:
    points = client.get("/wall/map", params={"layer": "alerts"}).json()["points"]
    cls = {p["id"]: p["cls"] for p in points}
    assert cls["aq-w0"] == "warning" and cls["aq-w1"] == "critical"
    assert cls["aq-w2"] == "none"  # its alert is resolved
    assert cls["sl-e0"] == "advisory"  # acknowledged is still open


def test_aqi_layer_classes_follow_the_vn_aqi_bands(client: TestClient) -> None:
    body = client.get("/wall/map", params={"layer": "aqi"}).json()
    assert {p["cls"] for p in body["points"]} == {"none"}  # no AQI computed yet
    colours = {c["key"]: c["colour"] for c in body["classes"]}
    assert colours["aqi1"] == "#00e400" and len(colours) == 7
    assert aqi_class(None) == "none" and aqi_class(50) == "aqi1" and aqi_class(51) == "aqi2"
    assert aqi_class(301) == "aqi6"


def test_many_devices_become_clusters_with_counts_and_the_worst_class(fleet) -> None:
    found = build_map(fleet, layer="alerts", tenant=None, point_limit=2)
    assert found.mode == "clusters" and found.points == [] and found.total == 9
    by_size = sorted(found.clusters, key=lambda c: c.count)
    east, west = by_size
    assert (east.count, west.count) == (3, 6)
    assert west.cls == "critical" and west.counts == {"warning": 1, "critical": 1, "none": 4}
    assert east.cls == "advisory"
    assert west.bbox[0] == pytest.approx(WEST[1]) and west.lat == pytest.approx(WEST[0])
    # Status clusters take the majority: four online outvote two offline.
    status = build_map(fleet, layer="status", tenant=None, point_limit=2)
    assert sorted(c.cls for c in status.clusters) == ["never_seen", "online"]


def test_bbox_limits_the_devices_and_bad_boxes_are_named(client: TestClient) -> None:
    west_box = "106.5,20.7,106.7,21.0"
    body = client.get("/wall/map", params={"bbox": west_box}).json()
    assert body["total"] == 6 and all(p["id"].startswith("aq-w") for p in body["points"])
    bad = client.get("/wall/map", params={"bbox": "106.7,20.7,106.5,21.0"})
    assert bad.status_code == 422 and "lon0 < lon1" in bad.json()["detail"]
    assert client.get("/wall/map", params={"bbox": "a,b"}).status_code == 422
    zoomed = client.get("/wall/map", params={"zoom": 12}).json()  # a small box at the centre
    assert zoomed["total"] < 9


def test_tenant_bound_viewer_sees_only_its_devices(db_settings, fleet) -> None:
    headers = api_key_headers(fleet, "viewer", tenant="sxd")
    with TestClient(create_app(db_settings), headers=headers) as viewer:
        ids = {p["id"] for p in viewer.get("/wall/map").json()["points"]}
        kpis = viewer.get("/wall/kpis").json()
    assert ids == {"sl-e0", "sl-e1", "sl-e2"}
    assert kpis["devices"] == {"online": 0, "offline": 0, "never_seen": 3}
    assert kpis["alerts_open"] == {"advisory": 1, "warning": 0, "critical": 0}


def test_kpis_count_devices_alerts_lights_and_energy(client: TestClient, fleet) -> None:
    ids = dict(fleet.execute("SELECT name, id FROM metrics WHERE kind = 'street_light'"))
    now = datetime.now(UTC)
    rows = [  # sl-e0: on, faulty, 1.5 kWh today; sl-e1: off
        ("sl-e0", "state", 1.0), ("sl-e0", "fault_code", 3.0),
        ("sl-e1", "state", 0.0), ("sl-e1", "fault_code", 0.0),
    ]  # fmt: skip
    with fleet.cursor() as cur:
        cur.executemany(
            "INSERT INTO telemetry SELECT %s, key, %s, %s FROM devices WHERE id = %s",
            [(now - timedelta(minutes=1), ids[m], v, d) for d, m, v in rows]
            + [(now - timedelta(seconds=s), ids["energy"], v, "sl-e0")
               for s, v in ((30, 100.0), (10, 101.5))],
        )  # fmt: skip
    body = client.get("/wall/kpis").json()
    assert body["devices"] == {"online": 4, "offline": 2, "never_seen": 3}
    assert body["by_kind"]["street_light"] == {"online": 0, "offline": 0, "never_seen": 3}
    assert body["by_agency"]["sonnmt"] == {"online": 4, "offline": 2, "never_seen": 0}
    assert body["alerts_open"] == {"advisory": 1, "warning": 1, "critical": 1}
    lighting = body["lighting"]
    assert (lighting["lights"], lighting["on"], lighting["faulty"]) == (3, 1, 1)
    assert lighting["offline"] == 3  # never seen counts as not reachable
    assert lighting["energy_today_kwh"]["street_light"] == pytest.approx(1.5)
    assert body["aqi"]["aqi"] is None and body["worst_communes"] == []
    assert body["traffic"] == {"cameras": 0, "vehicles_last_hour": 0.0,
                               "usual_for_hour": None, "ratio": None}  # fmt: skip


def test_traffic_compares_the_last_hour_with_the_same_hour_last_week(
    client: TestClient, fleet
) -> None:
    add(fleet, "cam-1", "traffic_camera", "sxd", EAST, timedelta(seconds=5))
    ids = dict(fleet.execute("SELECT name, id FROM metrics WHERE kind = 'traffic_camera'"))
    key = fleet.execute("SELECT key FROM devices WHERE id = 'cam-1'").fetchone()[0]
    now = datetime.now(UTC)
    fleet.execute(
        "INSERT INTO telemetry VALUES (%s, %s, %s, 30), (%s, %s, %s, 10), (%s, %s, %s, 55)",
        (now - timedelta(minutes=5), key, ids["count_car_in"],
         now - timedelta(minutes=5), key, ids["count_motorbike_out"],
         now - timedelta(minutes=5), key, ids["occupancy"]),  # not a count: left out
    )  # fmt: skip
    hour = now.replace(minute=0, second=0, microsecond=0)
    with fleet.cursor() as cur:  # 80 vehicles in each clock hour of the window, 2 days ago
        cur.executemany(
            """INSERT INTO telemetry_1h (bucket, device_key, metric_id, min, max, sum,
                                         count, last, last_time)
               VALUES (%s, %s, %s, 0, 80, 80, 1, 80, %s)""",
            [(b, key, ids["count_car_in"], b)
             for b in (hour - timedelta(days=2, hours=1), hour - timedelta(days=2))],
        )  # fmt: skip
    traffic = client.get("/wall/kpis").json()["traffic"]
    assert traffic["cameras"] == 1 and traffic["vehicles_last_hour"] == 40.0
    assert traffic["usual_for_hour"] == pytest.approx(80.0)
    assert traffic["ratio"] == pytest.approx(0.5)


def test_wall_endpoints_need_credentials(db_settings, fleet) -> None:
    with TestClient(create_app(db_settings)) as anonymous:
        assert anonymous.get("/wall/map").status_code == 401
        assert anonymous.get("/wall/kpis").status_code == 401


def _readings(conn: psycopg.Connection, device_id: str, values: dict[str, float]) -> None:
    kind = conn.execute("SELECT kind FROM devices WHERE id = %s", (device_id,)).fetchone()[0]
    ids = dict(conn.execute("SELECT name, id FROM metrics WHERE kind = %s", (kind,)))
    now = datetime.now(UTC) - timedelta(minutes=2)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO telemetry SELECT %s, key, %s, %s FROM devices WHERE id = %s",
            [(now, ids[m], v, device_id) for m, v in values.items()],
        )


def test_traffic_by_camera_and_class_busiest_first(client: TestClient, fleet) -> None:
    add(fleet, "cam-a", "traffic_camera", "sxd", EAST, timedelta(seconds=5))
    add(fleet, "cam-b", "traffic_camera", "sxd", WEST, timedelta(seconds=5))
    _readings(fleet, "cam-a", {"count_car_in": 3, "count_car_out": 4, "count_bicycle_in": 1})
    _readings(fleet, "cam-b", {"count_motorbike_in": 50, "count_bus_truck_out": 2})
    body = client.get("/wall/traffic").json()
    assert [c["device_id"] for c in body] == ["cam-b", "cam-a"]
    assert body[0]["by_class"] == {"motorbike": 50, "car": 0, "bus_truck": 2, "bicycle": 0}
    assert body[1]["by_class"]["car"] == 7 and body[1]["total"] == 8
    assert len(client.get("/wall/traffic", params={"limit": 1}).json()) == 1


def test_gauges_against_alert_and_danger_levels(client: TestClient, fleet) -> None:
    for device_id, level in (("wl-low", 50.0), ("wl-alert", 320.0), ("wl-danger", 420.0)):
        ensure_tenant(fleet, "sxd", "sxd")
        levels = SiteLevels(alert_level=300, danger_level=400)
        gauge = DeviceIn(id=device_id, kind="water_level_gauge", tenant_id="sxd",
                         lat=EAST[0], lon=EAST[1], levels=levels)  # fmt: skip
        upsert_device(fleet, gauge)
        _readings(fleet, device_id, {"water_level": level})
    body = client.get("/wall/gauges").json()
    assert [(g["device_id"], g["state"]) for g in body] == [
        ("wl-danger", "danger"), ("wl-alert", "alert"), ("wl-low", "normal")]  # fmt: skip
    assert body[0]["alert_level"] == 300 and body[0]["danger_level"] == 400


def test_cabinets_report_their_latest_readings(client: TestClient, fleet) -> None:
    add(fleet, "cab-1", "lighting_cabinet", "sxd", EAST, timedelta(seconds=30))
    add(fleet, "cab-2", "lighting_cabinet", "sxd", EAST, None)
    _readings(fleet, "cab-1", {"state": 1, "dim_level": 60, "power": 4.2, "door_open": 0})
    body = client.get("/wall/cabinets").json()
    assert [c["device_id"] for c in body] == ["cab-1", "cab-2"]
    first = body[0]
    assert (first["status"], first["state"], first["dim_level"]) == ("online", 1, 60)
    assert first["fault_code"] is None and body[1]["status"] == "never_seen"
