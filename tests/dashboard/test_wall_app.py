"""The assembled wall: offline page, sign-in kept server-side, roles shape the page."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import dash
import psycopg
import pytest
from fastapi.testclient import TestClient

import ioc_dashboard.__main__ as wall_main
from ioc_api import create_app as create_api
from ioc_api.auth.accounts import create_user
from ioc_api.auth.principal import Role
from ioc_dashboard import create_app
from ioc_dashboard.api_client import WallApiClient
from tests.conftest import api_key_headers

API_URL = "http://127.0.0.1:9"
URL = re.compile(r"""https?://([^/\s"'<>:]+)""")


def _components(node) -> dict[str, dict]:
    """Props of every component with a string id, from Dash's serialised layout."""
    found: dict[str, dict] = {}
    if isinstance(node, dict):
        props = node.get("props", {})
        if isinstance(props, dict) and isinstance(props.get("id"), str):
            found[props["id"]] = props
        for value in node.values():
            found.update(_components(value))
    elif isinstance(node, list):
        for value in node:
            found.update(_components(value))
    return found


def test_index_html_loads_nothing_from_outside_this_server() -> None:
    app = create_app(api_url=API_URL, api_key="k")
    html = app.server.test_client().get("/").get_data(as_text=True)
    # Dash writes "/" as \u002f inside its JSON config; undo that so no URL can hide there.
    unescaped = html.replace("\\u002f", "/").replace("\\/", "/")
    assert set(URL.findall(unescaped)) <= {"localhost", "127.0.0.1"}
    assert "/assets/wall.css" in html
    for asset in ("/assets/wall.css", "/assets/alert.wav"):
        assert app.server.test_client().get(asset).status_code == 200


def test_without_a_wall_key_everyone_must_sign_in() -> None:
    client = create_app(api_url=API_URL).server.test_client()
    assert client.get("/").headers["Location"].endswith("/login")
    assert client.post("/_dash-update-component", json={}).status_code == 401
    page = client.get("/login").get_data(as_text=True)
    assert 'id="username"' in page and "Đăng nhập" in page


def test_language_is_kept_per_session() -> None:
    client = create_app(api_url=API_URL).server.test_client()
    client.get("/lang/en")
    assert "Sign in" in client.get("/login").get_data(as_text=True)


def test_each_app_registers_its_own_callbacks() -> None:
    first = create_app(api_url=API_URL)
    second = create_app(api_url="http://127.0.0.1:10")
    assert first.callback_map.keys() == second.callback_map.keys()
    assert isinstance(first, dash.Dash) and len(first.callback_map) >= 15


@pytest.fixture
def wall(db_settings, conn: psycopg.Connection) -> Iterator[dash.Dash]:
    """A wall whose HTTP client is bound to the real API app on this test's database."""
    create_user(conn, username="env", password="a-long-password", role=Role.ENVIRONMENT_STAFF)
    key = api_key_headers(conn, "viewer")["X-API-Key"]
    with TestClient(create_api(db_settings), base_url="http://api") as http:
        client = WallApiClient(base_url="http://api", api_key=key, _http=http)
        yield create_app(api_url="http://api", api_key=key, client=client, refresh_ms=1234)


def _layout(client) -> dict[str, dict]:
    return _components(json.loads(client.get("/_dash-layout").get_data(as_text=True)))


def test_sign_in_keeps_the_token_on_the_server_and_unlocks_the_editor(wall: dash.Dash) -> None:
    client = wall.server.test_client()
    viewer = _layout(client)
    assert viewer["wall-interval"]["interval"] == 1234
    assert "th-save" not in viewer and "alert-acknowledge" not in viewer  # view only
    refused = client.post("/login", data={"username": "env", "password": "nope"})
    assert "Sai tên đăng nhập" in refused.get_data(as_text=True)
    answer = client.post("/login", data={"username": "env", "password": "a-long-password"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/")
    cookie = client.get_cookie("session")
    assert cookie is not None
    payload = cookie.value.split(".")[0]
    stored = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert stored.keys() == {"sid"}  # a random id; the API's token stays on the server
    staff = _layout(client)
    assert {"th-save", "th-preview", "alert-acknowledge"} <= staff.keys()
    assert "dim-send" not in staff  # commands are for operators and agency admins
    client.get("/logout")
    assert "th-save" not in _layout(client)


def test_main_serves_on_the_configured_host_and_port_without_debug(monkeypatch) -> None:
    calls: dict[str, object] = {}

    class FakeApp:
        def run(self, **kwargs: object) -> None:
            calls.update(kwargs)

    def fake_create_app(**kwargs: object) -> FakeApp:
        calls.update(kwargs)
        return FakeApp()

    monkeypatch.setenv("IOC_DASHBOARD_HOST", "0.0.0.0")
    monkeypatch.setenv("IOC_DASHBOARD_PORT", "18050")
    monkeypatch.setenv("IOC_API_URL", "http://127.0.0.1:18000")
    monkeypatch.setenv("IOC_WALL_API_KEY", "ioc_abc_wallkey")
    monkeypatch.setenv("IOC_WALL_REFRESH_MS", "2500")
    monkeypatch.setattr(wall_main, "create_app", fake_create_app)
    wall_main.main()
    assert calls == {"api_url": "http://127.0.0.1:18000", "api_key": "ioc_abc_wallkey",
                     "refresh_ms": 2500, "tile_url": None, "session_secret": None,
                     "host": "0.0.0.0", "port": 18050, "debug": False}  # fmt: skip
