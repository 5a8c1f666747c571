"""The operations wall in real headless Chromium, fed by the real stack."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PASSWORD, STATIONS, Wall

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.broker, pytest.mark.slow]

# Plotly keeps the rendered figure on the graph's div; reading it is how we see what is drawn
# (Scattergl markers are pixels on a WebGL canvas, not DOM nodes). Device traces are the ones
# whose meta starts with "devices:"; in points mode each id is one device.
MARKERS_JS = """() => {
  const gd = document.querySelector('#wall-map .js-plotly-plot');
  if (!gd || !gd._fullData) return null;
  return gd._fullData.filter(t => String(t.meta || '').startsWith('devices:') && t.customdata)
                     .reduce((n, t) => n + t.customdata.length, 0);
}"""
CHART_POINTS_JS = """() => {
  const gd = document.querySelector('#wall-chart .js-plotly-plot');
  if (!gd || !gd._fullData || !gd._fullData.length) return 0;
  return gd._fullData.reduce((n, t) => n + (t.x ? t.x.length : 0), 0);
}"""
LOCAL = ("http://127.0.0.1", "http://localhost", "data:", "blob:")


@pytest.fixture
def page(live_wall: Wall) -> Iterator[Page]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.external = []  # type: ignore[attr-defined]
            page.on("request", lambda req: None if req.url.startswith(LOCAL)
                    else page.external.append(req.url))  # type: ignore[attr-defined]  # fmt: skip
            yield page
        finally:
            browser.close()


def sign_in(page: Page, wall: Wall, username: str) -> None:
    page.goto(wall.url + "login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#wall-user", timeout=20_000)


def wait_for_map(page: Page) -> None:
    page.wait_for_function(f"({MARKERS_JS})() === {STATIONS}", timeout=30_000)


def test_sign_in_and_the_map_shows_every_station(page: Page, live_wall: Wall, artifacts) -> None:
    sign_in(page, live_wall, "op")
    assert page.inner_text("#wall-user") == "op · operator"
    wait_for_map(page)
    page.wait_for_function(
        "document.querySelector('#kpi-devices .kpi-value')?.innerText === "
        f"'{STATIONS} / {STATIONS}'",
        timeout=30_000,
    )
    traces = page.evaluate(
        "() => document.querySelector('#wall-map .js-plotly-plot').data.map(t => t.meta)"
    )
    # The city, not dots on white (names are drawn once zoomed in).
    assert {"communes", "outline", "commune-names"} <= set(traces)
    page.screenshot(path=str(artifacts / "wall-1920.png"))
    assert page.external == [], f"the wall fetched from outside: {page.external}"  # type: ignore[attr-defined]


def test_wrong_password_is_refused(page: Page, live_wall: Wall) -> None:
    page.goto(live_wall.url + "login")
    page.fill("#username", "op")
    page.fill("#password", "not-the-password")
    page.click("#login-submit")
    assert page.inner_text("#login-error") == "Sai tên đăng nhập hoặc mật khẩu"


def test_language_toggle_switches_the_labels(page: Page, live_wall: Wall, artifacts) -> None:
    page.goto(live_wall.url)
    assert page.inner_text("#wall-title") == "Trung tâm điều hành thông minh Hải Phòng"
    assert "Trạng thái" in page.inner_text("#map-layer")
    page.click("#lang-toggle")
    page.wait_for_function(
        "document.querySelector('#wall-title')?.innerText === "
        "'Hai Phong Intelligent Operations Centre'"
    )
    assert "Status" in page.inner_text("#map-layer")
    assert "Alerts" in page.inner_text(".alert-panel h2")
    wait_for_map(page)
    page.screenshot(path=str(artifacts / "wall-english.png"))
    page.click("#lang-toggle")
    page.wait_for_function("document.querySelector('#map-layer')?.innerText.includes('Cảnh báo')")


def test_clicking_a_station_opens_its_series(page: Page, live_wall: Wall, artifacts) -> None:
    page.goto(live_wall.url)
    wait_for_map(page)
    # Plotly's own click path (the event Dash listens to), on the last station drawn.
    device_id = page.evaluate(
        """() => {
          const gd = document.querySelector('#wall-map .js-plotly-plot');
          const i = gd._fullData.findIndex(t => String(t.meta || '').startsWith('devices:')
                                               && t.customdata && t.customdata.length);
          const t = gd._fullData[i];
          const k = t.customdata.length - 1;
          gd.emit('plotly_click', {points: [{curveNumber: i, pointNumber: k, pointIndex: k,
                                             customdata: t.customdata[k], x: t.x[k], y: t.y[k]}]});
          return t.customdata[k];
        }"""
    )
    page.wait_for_function(f"document.querySelector('#device-title')?.innerText === '{device_id}'")
    page.wait_for_function(f"({CHART_POINTS_JS})() > 0", timeout=20_000)
    page.screenshot(path=str(artifacts / "wall-device.png"))


def test_layer_switch_recolours_the_map(page: Page, live_wall: Wall) -> None:
    page.goto(live_wall.url)
    wait_for_map(page)
    page.click("#map-layer label:has-text('AQI')")
    page.wait_for_function(
        """() => document.querySelector('#wall-map .js-plotly-plot')._fullData
                 .some(t => t.meta === 'devices:none' && t.customdata
                            && t.customdata.length > 0)""",
        timeout=15_000,
    )
    wait_for_map(page)  # every station still drawn, now by AQI band


def test_desk_and_4k_layouts(page: Page, live_wall: Wall, artifacts) -> None:
    page.set_viewport_size({"width": 3840, "height": 2160})
    page.goto(live_wall.url)
    wait_for_map(page)
    page.screenshot(path=str(artifacts / "wall-3840.png"))
    box = page.locator("#wall-map").bounding_box()
    assert box is not None and box["width"] > 1800  # the map scales with the wall
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(live_wall.url)
    wait_for_map(page)
    page.screenshot(path=str(artifacts / "wall-desk.png"), full_page=True)


def test_acknowledged_alert_stays_acknowledged_after_reload(
    page: Page, live_wall: Wall, conn, artifacts
) -> None:
    alert_id = conn.execute(
        """INSERT INTO alerts (kind, severity, device_id, tenant_id, title, source)
           SELECT 'threshold', 'critical', id, tenant_id, 'PM2.5 above 150', 'test'
           FROM devices ORDER BY id LIMIT 1 RETURNING id"""
    ).fetchone()[0]
    sign_in(page, live_wall, "op")
    row = page.locator(f"[id*='\"index\":{alert_id}']")
    row.wait_for(timeout=45_000)  # the first feed tick, on a machine shared by eight
    assert "flash" in (row.get_attribute("class") or "")  # critical and new: it flashes
    row.click()
    page.wait_for_selector(f"[id*='\"index\":{alert_id}'].selected")
    page.fill("#alert-note", "crew sent")
    page.click("#alert-acknowledge")
    page.wait_for_function(
        "document.querySelector('#alert-feedback')?.innerText.includes('Đã ghi nhận')"
    )
    page.reload()
    row = page.locator(f"[id*='\"index\":{alert_id}'] .alert-state")
    row.wait_for(timeout=20_000)
    assert row.inner_text() == "Đã tiếp nhận"
    page.screenshot(path=str(artifacts / "wall-alert-acknowledged.png"))


def _pick_rule(page: Page, metric: str) -> None:
    page.click("#drill-tabs label:has-text('Ngưỡng')")
    page.click("#th-rule")
    page.locator("[role=option]", has_text=f"/{metric})").first.click()
    page.wait_for_function("document.querySelector('#th-name')?.value.length > 0")


def test_threshold_edit_saves_a_new_version(page: Page, live_wall: Wall, artifacts) -> None:
    sign_in(page, live_wall, "env")
    _pick_rule(page, "pm25")
    rule_id = int(page.inner_text("#th-rule").split()[0].lstrip("#"))
    warning = page.locator("#th-warning")
    new_level = float(warning.input_value()) + 5
    warning.fill(str(new_level))
    page.fill("#th-reason", "too many alerts at the port")
    page.click("#th-save")
    page.wait_for_function(
        "document.querySelector('#th-feedback')?.innerText.includes('Đã lưu phiên bản')"
    )
    page.screenshot(path=str(artifacts / "wall-threshold-saved.png"))
    with httpx.Client(base_url=live_wall.api_url) as api:
        token = api.post("/auth/token", data={"username": "env", "password": PASSWORD}).json()
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        rule = api.get(f"/thresholds/{rule_id}", headers=bearer).json()
    assert rule["levels"]["warning"] == new_level and rule["version"] >= 2


def test_invalid_threshold_shows_the_api_problem_next_to_the_field(
    page: Page, live_wall: Wall
) -> None:
    sign_in(page, live_wall, "env")
    _pick_rule(page, "pm25")
    page.fill("#th-critical", "1")  # below warning: the API refuses the order of levels
    page.fill("#th-reason", "testing the editor")
    page.click("#th-save")
    page.wait_for_function("document.querySelector('#th-err-critical')?.innerText.length > 0")
    assert "critical" in page.inner_text("#th-err-critical")


def test_threshold_preview_before_saving(page: Page, live_wall: Wall, artifacts) -> None:
    sign_in(page, live_wall, "env")
    _pick_rule(page, "pm25")
    page.fill("#th-reason", "what would this raise?")
    page.click("#th-preview")
    page.wait_for_function(
        "document.querySelector('#th-preview-result')?.innerText.includes('7 ngày')",
        timeout=30_000,
    )
    page.screenshot(path=str(artifacts / "wall-threshold-preview.png"))
