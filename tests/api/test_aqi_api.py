"""The AQI endpoints: current per station, history, the commune ranking, the city, tenancy."""

from __future__ import annotations

import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from analytics.aqi import band_for, hourly_aqi
from analytics.aqi_store import compute_aqi
from analytics.aqi_store_read import StationAqi, current_aqi, current_aqi_json
from ioc_api import create_app
from ioc_api.routes import aqi
from tests.analytics.test_aqi_store import (
    FIRST,
    HOUR,
    LAST,
    Series,
    add_station,
    communes,
    station_series,
    write_means,
)
from tests.conftest import api_key_headers


@pytest.fixture
def client(db_settings, conn: psycopg.Connection, operator_headers):
    clean, dirty, worst = communes(conn)
    for device_id, tenant, commune, base in [
        ("aq-clean", "sonnmt", clean, 10.0),
        ("aq-dirty", "sonnmt", dirty, 60.0),
        ("aq-dirty-2", "sonnmt", dirty, 20.0),  # cleaner: must not lower its commune's value
        ("aq-port", "port", worst, 140.0),
    ]:
        key = add_station(conn, device_id, tenant=tenant, commune=commune)
        write_means(conn, key, pm_only(base))
    compute_aqi(conn, FIRST, LAST + HOUR)
    app = create_app(db_settings)
    app.include_router(aqi.router)
    with TestClient(app, headers=operator_headers) as test_client:
        yield test_client


def pm_only(base: float) -> Series:
    """PM alone, so the ranking follows ``base`` (the gases would lift clean stations)."""
    series = station_series(FIRST, 14, base=base)
    return {"pm25": series["pm25"], "pm10": series["pm10"]}


def current_of(base: float) -> int:
    result = hourly_aqi(pm_only(base), LAST)
    assert result.aqi is not None
    return result.aqi


def test_current_per_station_with_band_and_advice(client: TestClient) -> None:
    body = client.get("/aqi/current").json()
    assert [s["device_id"] for s in body] == ["aq-port", "aq-dirty", "aq-dirty-2", "aq-clean"]
    port = body[0]
    assert port["aqi"] == current_of(140.0)
    band = band_for(port["aqi"])
    assert port["band"]["name_vi"] == band.name_vi and port["band"]["colour"] == band.colour
    assert port["band"]["general"]["en"] == band.general.en
    assert port["hour"].startswith(LAST.strftime("%Y-%m-%dT%H:00"))


def test_communes_ranked_worst_first_by_their_worst_station(
    client: TestClient, conn: psycopg.Connection
) -> None:
    clean, dirty, worst = communes(conn)
    body = client.get("/aqi/communes").json()
    assert [c["commune_code"] for c in body] == [worst, dirty, clean]
    assert [c["aqi"] for c in body] == [current_of(140.0), current_of(60.0), current_of(10.0)]
    assert (body[1]["device_id"], body[1]["stations"]) == ("aq-dirty", 2)


def test_city_is_the_worst_commune_with_counts_per_band(client: TestClient) -> None:
    body = client.get("/aqi/city").json()
    assert (body["aqi"], body["device_id"], body["stations"]) == (
        current_of(140.0), "aq-port", 4)  # fmt: skip
    assert sum(b["communes"] for b in body["bands"]) == 3
    assert sum(b["stations"] for b in body["bands"]) == 4


def test_history_hourly_and_daily(client: TestClient) -> None:
    since, until = FIRST.isoformat(), (LAST + HOUR).isoformat()
    hourly = client.get("/aqi/history", params={"device_id": "aq-dirty", "since": since,
                                                 "until": until}).json()  # fmt: skip
    assert len(hourly["points"]) == 14 and hourly["points"][0]["aqi"] is None
    assert hourly["points"][-1]["aqi"] == current_of(60.0)
    params = {"device_id": "aq-dirty", "since": since, "until": until, "period": "daily"}
    daily = client.get("/aqi/history", params=params).json()
    assert daily["period"] == "daily" and daily["points"] and daily["points"][0]["date"]
    bad = client.get("/aqi/history", params={"device_id": "aq-dirty", "since": until,
                                              "until": since})  # fmt: skip
    assert bad.status_code == 422
    assert client.get("/aqi/history", params={"device_id": "nope"}).status_code == 404


def test_credentials_required(client: TestClient) -> None:
    for path in ("/aqi/current", "/aqi/communes", "/aqi/city", "/aqi/history?device_id=aq-port"):
        assert client.get(path, headers={"X-API-Key": ""}).status_code == 401, path


def test_tenant_bound_reader_sees_own_stations_only(
    client: TestClient, conn: psycopg.Connection
) -> None:
    headers = api_key_headers(conn, role="viewer", tenant="sonnmt")
    current = client.get("/aqi/current", headers=headers).json()
    assert "aq-port" not in {s["device_id"] for s in current}
    assert client.get("/aqi/city", headers=headers).json()["device_id"] == "aq-dirty"
    history = client.get("/aqi/history", params={"device_id": "aq-port"}, headers=headers)
    assert history.status_code == 404


def test_current_json_is_the_models_serialised(
    client: TestClient, conn: psycopg.Connection
) -> None:
    """The map's SQL-built JSON is the document the pydantic models would write (times as the
    same strings), for everyone and for one tenant."""
    for tenant in (None, "sonnmt", "port"):
        stations = current_aqi(conn, tenant=tenant)
        expected = orjson.loads(TypeAdapter(list[StationAqi]).dump_json(stations))
        assert orjson.loads(current_aqi_json(conn, tenant=tenant)) == expected, tenant
    assert client.get("/aqi/current").content == current_aqi_json(conn)
    assert current_aqi_json(conn, tenant="nobody") == b"[]"
