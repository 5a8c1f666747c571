"""The assembled wall: it builds without an API and the page it serves names no outside host."""

import json
import re

import dash

import ioc_dashboard.__main__ as wall_main
from ioc_dashboard import create_app
from ioc_dashboard.i18n import METRICS

API_URL = "http://127.0.0.1:9"
URL = re.compile(r"""https?://([^/\s"'<>:]+)""")


def _index_html(app: dash.Dash) -> str:
    response = app.server.test_client().get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_create_app_builds_without_a_running_api():
    app = create_app(api_url=API_URL, refresh_ms=2000)
    assert isinstance(app, dash.Dash)
    assert app.title == "Trung tâm điều hành thông minh Hải Phòng"


def test_index_html_loads_nothing_from_outside_this_server():
    html = _index_html(create_app(api_url=API_URL))
    # Dash writes "/" as \u002f inside its JSON config; undo that so no URL can hide there.
    unescaped = html.replace("\\u002f", "/").replace("\\/", "/")
    hosts = set(URL.findall(unescaped))
    assert hosts <= {"localhost", "127.0.0.1"}, hosts
    assert "/assets/wall.css" in html


def test_stylesheet_is_served_locally():
    app = create_app(api_url=API_URL)
    assert app.server.test_client().get("/assets/wall.css").status_code == 200


def _components(node) -> dict[str, dict]:
    """Props of every component with an id, from Dash's serialised layout."""
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


def test_layout_exposes_the_ids_the_browser_test_relies_on():
    app = create_app(api_url=API_URL, refresh_ms=1234)
    layout = json.loads(app.server.test_client().get("/_dash-layout").get_data(as_text=True))
    components = _components(layout)
    assert {"wall-map", "wall-chart", "kpi-online", "metric-select"} <= components.keys()
    assert components["wall-interval"]["interval"] == 1234
    options = components["metric-select"]["options"]
    assert [o["value"] for o in options] == list(METRICS)
    assert components["metric-select"]["value"] == "pm25"


def test_each_app_registers_its_own_callbacks():
    first = create_app(api_url=API_URL)
    second = create_app(api_url="http://127.0.0.1:10")
    assert first.callback_map.keys() == second.callback_map.keys()
    assert len(first.callback_map) == 3


def test_main_serves_on_the_configured_host_and_port_without_debug(monkeypatch):
    calls = {}

    class FakeApp:
        def run(self, **kwargs):
            calls.update(kwargs)

    def fake_create_app(*, api_url: str, api_key: str | None) -> FakeApp:
        calls["api_url"] = api_url
        calls["api_key"] = api_key
        return FakeApp()

    monkeypatch.setenv("IOC_DASHBOARD_HOST", "0.0.0.0")
    monkeypatch.setenv("IOC_DASHBOARD_PORT", "18050")
    monkeypatch.setenv("IOC_API_URL", "http://127.0.0.1:18000")
    monkeypatch.setenv("IOC_WALL_API_KEY", "ioc_abc_wallkey")
    monkeypatch.setattr(wall_main, "create_app", fake_create_app)
    wall_main.main()
    assert calls == {
        "api_url": "http://127.0.0.1:18000",
        "api_key": "ioc_abc_wallkey",
        "host": "0.0.0.0",
        "port": 18050,
        "debug": False,
    }
