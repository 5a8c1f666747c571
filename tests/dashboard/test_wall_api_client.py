"""The wall's API client against the real API (in process, on a real database)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ioc_api import create_app
from ioc_api.auth.accounts import create_user
from ioc_api.auth.principal import Role
from ioc_dashboard.api_client import ApiProblemError, WallApiClient, WallDataError
from tests.conftest import api_key_headers


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_api() -> Iterator[WallApiClient]:
    with WallApiClient(base_url=f"http://127.0.0.1:{_closed_port()}", timeout_s=2.0) as client:
        yield client


def test_unreachable_api_raises_wall_data_error_naming_the_url(dead_api: WallApiClient) -> None:
    with pytest.raises(WallDataError) as caught:
        dead_api.devices()
    assert caught.value.url == f"{dead_api.base_url}/devices"
    assert caught.value.url in str(caught.value)
    assert caught.value.__cause__ is not None


def test_device_ids_are_escaped_in_the_path(dead_api: WallApiClient) -> None:
    with pytest.raises(WallDataError) as caught:
        dead_api.telemetry("a/b c", metric="pm25", since=datetime(2026, 11, 26, tzinfo=UTC))
    assert caught.value.url == f"{dead_api.base_url}/devices/a%2Fb%20c/telemetry"


def test_unknown_alert_action_is_refused_before_any_request(dead_api: WallApiClient) -> None:
    with pytest.raises(ValueError, match="delete"):
        dead_api.alert_action(1, "delete")


@pytest.fixture
def api(db_settings, conn: psycopg.Connection) -> Iterator[WallApiClient]:
    """The wall's client with the real API app as its transport, reading with a viewer key."""
    ensure_tenant(conn, "sonnmt", "Environment")
    upsert_device(conn, DeviceIn(id="aq-001", kind="air_quality_station", tenant_id="sonnmt",
                                 lat=20.85, lon=106.68))  # fmt: skip
    create_user(conn, username="env", password="a-long-password", role=Role.ENVIRONMENT_STAFF)
    key = api_key_headers(conn, "viewer")["X-API-Key"]
    with TestClient(create_app(db_settings), base_url="http://api") as http:
        yield WallApiClient(base_url="http://api", api_key=key, _http=http)


def test_reads_devices_map_and_kpis_with_the_wall_key(api: WallApiClient) -> None:
    assert [d.id for d in api.devices().items] == ["aq-001"]
    wall = api.wall_map(layer="status", bbox=(106.0, 20.0, 107.0, 21.5))
    assert wall.mode == "points" and wall.points[0].cls == "never_seen"
    kpis = api.kpis()
    assert kpis.devices.never_seen == 1 and kpis.devices.total == 1


def test_sign_in_gives_a_token_that_speaks_for_the_person(api: WallApiClient) -> None:
    token = api.login("env", "a-long-password")
    me = api.as_user(token.access_token).me()
    assert (me.name, me.role) == ("env", "environment_staff")
    with pytest.raises(ApiProblemError) as caught:
        api.login("env", "wrong")
    assert caught.value.status == 401


def test_refused_threshold_edit_keeps_the_field_paths(api: WallApiClient) -> None:
    user = api.as_user(api.login("env", "a-long-password").access_token)
    rule = next(r for r in user.thresholds() if r.metric == "pm25")
    with pytest.raises(ApiProblemError) as caught:
        user.threshold_update(rule.id, {"reason": "x"})  # too short a reason
    assert caught.value.status == 422
    assert [e["path"] for e in caught.value.errors] == ["body.reason"]
    with pytest.raises(ApiProblemError) as caught:
        api.threshold_update(rule.id, {"reason": "viewer tries"})  # a viewer may not
    assert caught.value.status == 403


def test_alerts_and_forecasts_follow_contracts_c4_and_c5(api: WallApiClient, conn) -> None:
    conn.execute(
        """INSERT INTO alerts (kind, severity, device_id, tenant_id, title, source)
           VALUES ('threshold', 'critical', 'aq-001', 'sonnmt', 'PM2.5 above 150', 'test')"""
    )
    page = api.alerts(state="open")
    assert [(a.device_id, a.severity, a.state) for a in page.items] == [
        ("aq-001", "critical", "open")]  # fmt: skip
    with pytest.raises(ApiProblemError) as caught:  # none issued yet: 404, the band is left out
        api.forecast("aq-001", "pm25")
    assert caught.value.status == 404
