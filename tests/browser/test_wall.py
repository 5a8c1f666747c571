"""The operations wall in real headless Chromium, fed by the real stack."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, STATIONS

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.broker, pytest.mark.slow]

# Plotly keeps the rendered figure on the graph's div; reading it is how we see what is drawn
# (Scattergl markers are pixels on a WebGL canvas, not DOM nodes).
MARKERS_JS = """() => {
  const gd = document.querySelector('#wall-map .js-plotly-plot');
  if (!gd || !gd._fullData) return null;
  return gd._fullData.filter(t => t.customdata && t.customdata.length)
                     .reduce((n, t) => n + t.customdata.length, 0);
}"""
CHART_POINTS_JS = """() => {
  const gd = document.querySelector('#wall-chart .js-plotly-plot');
  if (!gd || !gd._fullData || !gd._fullData.length) return 0;
  return gd._fullData.reduce((n, t) => n + (t.x ? t.x.length : 0), 0);
}"""


def test_wall_shows_every_station_on_the_map_and_a_chart(live_wall, artifacts):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            external: list[str] = []
            page.on(
                "request",
                lambda req: (
                    external.append(req.url)
                    if not req.url.startswith(("http://127.0.0.1", "http://localhost", "data:"))
                    else None
                ),
            )
            page.goto(live_wall.url)
            page.wait_for_function(f"({MARKERS_JS})() === {STATIONS}", timeout=30_000)
            page.wait_for_function(f"({CHART_POINTS_JS})() > 0", timeout=30_000)
            page.wait_for_function(
                "document.querySelector('#kpi-online').innerText"
                f".includes('{STATIONS} / {STATIONS}')",
                timeout=30_000,
            )
            # Commune boundaries are drawn too: the map is the city, not dots on white.
            assert (
                page.evaluate(
                    "() => document.querySelector('#wall-map .js-plotly-plot')._fullData.length"
                )
                >= 2
            )
            page.screenshot(path=str(artifacts / "wall.png"), full_page=True)
            assert external == [], f"the wall fetched from outside: {external}"
        finally:
            browser.close()


def test_clicking_a_station_selects_its_series(live_wall, artifacts):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(live_wall.url)
            page.wait_for_function(f"({MARKERS_JS})() === {STATIONS}", timeout=30_000)
            # Plotly's own click path (the same event Dash listens to), on the last station.
            page.evaluate(
                """() => {
                  const gd = document.querySelector('#wall-map .js-plotly-plot');
                  const i = gd._fullData.findIndex(t => t.customdata && t.customdata.length);
                  const t = gd._fullData[i];
                  const k = t.customdata.length - 1;
                  gd.emit('plotly_click', {points: [{curveNumber: i, pointNumber: k,
                    pointIndex: k, customdata: t.customdata[k], x: t.x[k], y: t.y[k]}]});
                }"""
            )
            page.wait_for_function(
                "() => document.querySelector('#wall-chart').innerText.includes('aq-024')",
                timeout=15_000,
            )
            page.screenshot(path=str(artifacts / "wall-selected.png"))
        finally:
            browser.close()
