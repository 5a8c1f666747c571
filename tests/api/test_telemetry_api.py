"""Telemetry endpoints: raw pages with a keyset cursor, buckets from the rollups, latest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from ioc_api import create_app
from tests.api.seed import ALPHA_DEVICE, BRAVO_DEVICE, seed
from tests.conftest import api_key_headers


@pytest.fixture
def api(db_settings, conn):
    end = seed(conn, db_settings, minutes=180)
    with TestClient(create_app(db_settings.model_copy(update={"api_live_sweep": False}))) as c:
        c.end = end
        yield c


def test_raw_pages_cover_every_reading_once_in_order(api, conn):
    headers = api_key_headers(conn)
    seen, cursor = [], None
    while True:
        params = {"device_id": ALPHA_DEVICE, "metric": "pm25", "limit": 50}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/telemetry/raw", params=params, headers=headers).json()
        seen += [item["time"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 180 and len(set(seen)) == 180 and seen == sorted(seen)
    newest = api.get("/telemetry/raw", params={"device_id": ALPHA_DEVICE, "order": "desc",
                                               "limit": 1}, headers=headers).json()  # fmt: skip
    assert newest["items"][0]["time"] == seen[-1] and newest["unit"] == "ug/m3"


def test_a_forged_cursor_is_a_422_naming_it(api, conn):
    response = api.get("/telemetry/raw", params={"device_id": ALPHA_DEVICE, "cursor": "zzz"},
                       headers=api_key_headers(conn))  # fmt: skip
    assert response.status_code == 422
    assert "cursor" in response.json()["detail"]


def test_buckets_re_aggregate_the_rollups(api, conn):
    headers = api_key_headers(conn)
    since = (api.end - timedelta(minutes=59)).isoformat()
    until = (api.end + timedelta(minutes=1)).isoformat()
    span = {"device_id": ALPHA_DEVICE, "metric": "pm25", "since": since, "until": until}
    minutes = api.get("/telemetry/buckets", params={**span, "bucket": "1m"}, headers=headers)
    minutes = minutes.json()
    assert len(minutes["bucket"]) == 60 == len(minutes["mean"]) == len(minutes["last"])
    assert minutes["count"] == [1] * 60 and minutes["bucket"] == sorted(minutes["bucket"])
    fives = api.get("/telemetry/buckets", params={**span, "bucket": "5m"}, headers=headers).json()
    assert sum(fives["count"]) == 60 and len(fives["bucket"]) in (12, 13)
    total = sum(m * n for m, n in zip(fives["mean"], fives["count"], strict=True))
    assert total == pytest.approx(sum(minutes["mean"]))
    assert max(fives["max"]) == max(minutes["max"]) and min(fives["min"]) == min(minutes["min"])
    year = {**span, "bucket": "1m", "since": "2020-01-01T00:00:00Z"}
    too_long = api.get("/telemetry/buckets", params=year, headers=headers)
    assert too_long.status_code == 422


def test_latest_is_one_row_per_series_and_tenant_scoped(api, conn):
    everything = api.get("/telemetry/latest", headers=api_key_headers(conn)).json()
    assert {(v["device_id"], v["metric"]) for v in everything} == {
        (ALPHA_DEVICE, "pm25"), (ALPHA_DEVICE, "pm10"),
        (BRAVO_DEVICE, "count_car_in"), (BRAVO_DEVICE, "count_motorbike_in")}  # fmt: skip
    alpha = api.get("/telemetry/latest", headers=api_key_headers(conn, "viewer", "alpha")).json()
    assert {v["device_id"] for v in alpha} == {ALPHA_DEVICE}
    assert alpha[0]["time"].startswith(api.end.isoformat()[:16])


def test_commune_pools_its_devices_per_hour(api, conn):
    commune = conn.execute("SELECT commune_code FROM devices WHERE id = %s",
                           (ALPHA_DEVICE,)).fetchone()[0]  # fmt: skip
    body = api.get(f"/telemetry/communes/{commune}",
                   params={"kind": "air_quality_station", "metric": "pm25", "bucket": "1h"},
                   headers=api_key_headers(conn)).json()  # fmt: skip
    assert body["devices"] == 1 and sum(body["count"]) == 180 and body["last"] is None


def test_profiles(api, conn):
    headers = api_key_headers(conn, "viewer")
    kinds = [p["kind"] for p in api.get("/profiles", headers=headers).json()]
    assert "air_quality_station" in kinds and len(kinds) == 8
    pm25 = api.get("/profiles/air_quality_station", headers=headers).json()["metrics"][0]
    assert pm25["unit"] == "ug/m3"
    assert api.get("/profiles/toaster", headers=headers).status_code == 404
