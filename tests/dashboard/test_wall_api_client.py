"""The wall's API client: the contract it parses and the errors it raises."""

import socket
from datetime import UTC, datetime

import pytest

from ioc_dashboard.api_client import DeviceList, TelemetrySeries, WallApiClient, WallDataError


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_api():
    base_url = f"http://127.0.0.1:{_closed_port()}"
    with WallApiClient(base_url=base_url, timeout_s=2.0) as client:
        yield client


def test_unreachable_api_raises_wall_data_error_naming_the_url(dead_api):
    with pytest.raises(WallDataError) as caught:
        dead_api.devices()
    assert caught.value.url == f"{dead_api.base_url}/devices"
    assert caught.value.url in str(caught.value)
    assert caught.value.__cause__ is not None


def test_telemetry_errors_name_the_device_url(dead_api):
    with pytest.raises(WallDataError) as caught:
        dead_api.telemetry("aq-001", metric="pm25", since=datetime(2026, 11, 26, tzinfo=UTC))
    assert caught.value.url == f"{dead_api.base_url}/devices/aq-001/telemetry"


def test_device_ids_are_escaped_in_the_path(dead_api):
    with pytest.raises(WallDataError) as caught:
        dead_api.telemetry("a/b c", metric="pm25", since=datetime(2026, 11, 26, tzinfo=UTC))
    assert caught.value.url.endswith("/devices/a%2Fb%20c/telemetry")


def test_device_list_contract_parses_and_tolerates_new_keys():
    body = {
        "items": [
            {
                "id": "aq-001",
                "kind": "air_quality_station",
                "tenant": "sonnmt",
                "commune_code": "11407",
                "commune_name": "Phường An Biên",
                "lat": 20.83,
                "lon": 106.67,
                "address": None,
                "status": "online",
                "last_seen": "2026-11-26T23:50:00+00:00",
                "firmware": "added later",
            }
        ],
        "total": 24,
    }
    devices = DeviceList.model_validate(body)
    assert devices.items[0].last_seen == datetime(2026, 11, 26, 23, 50, tzinfo=UTC)
    assert devices.total == 24


def test_telemetry_contract_parses():
    body = {
        "device_id": "aq-001",
        "metric": "pm25",
        "unit": "ug/m3",
        "points": [{"time": "2026-11-26T23:45:00+00:00", "value": 35.2}],
    }
    series = TelemetrySeries.model_validate(body)
    assert series.points[0].value == 35.2
