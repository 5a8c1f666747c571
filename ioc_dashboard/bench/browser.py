"""What the wall costs the browser: paint times, refresh period, main-thread long tasks.

Measured the way the goals are stated: headless Chromium, the Long Tasks API
(``PerformanceObserver`` of type ``longtask``, buffered so tasks before the observer count
too), the Paint Timing entries, and the time between the map's refresh responses.
"""

from __future__ import annotations

import itertools
import json
import statistics
from pathlib import Path
from typing import Any, Final

from playwright.sync_api import Page, sync_playwright

CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = ["--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking"]  # fmt: skip

_OBSERVE = """
window.__iocLongTasks = [];
new PerformanceObserver(list => {
  for (const e of list.getEntries()) window.__iocLongTasks.push([e.startTime, e.duration]);
}).observe({type: 'longtask', buffered: true});
// When each map refresh answer arrives (Dash posts its callbacks with fetch).
window.__iocRefreshes = [];
const fetchBefore = window.fetch;
window.fetch = async (...args) => {
  const answer = await fetchBefore(...args);
  const body = args[1] && args[1].body;
  if (typeof body === 'string' && body.includes('"output":"..wall-map.figure...map-count'))
    window.__iocRefreshes.push(performance.now());
  return answer;
};
"""
# The map's device traces, and how many devices they stand for (a cluster counts its members).
_DRAWN = """() => {
  const gd = document.querySelector('#wall-map .js-plotly-plot');
  if (!gd || !gd._fullData) return null;
  const traces = gd._fullData.filter(t => String(t.meta || '').startsWith('devices:'));
  const marks = traces.reduce((n, t) => n + (t.customdata ? t.customdata.length : 0), 0);
  const clusters = traces.some(
    t => (t.customdata || []).some(c => String(c).startsWith('cluster:')));
  return marks ? {marks, clusters, at: performance.now()} : null;
}"""
_CLICK_BIGGEST_CLUSTER = """() => {
  const gd = document.querySelector('#wall-map .js-plotly-plot');
  let best = null;
  gd._fullData.forEach((t, i) => (t.customdata || []).forEach((c, k) => {
    const size = Array.isArray(t.marker.size) ? t.marker.size[k] : t.marker.size;
    if (String(c).startsWith('cluster:') && (!best || size > best.size))
      best = {i, k, size, c, x: t.x[k], y: t.y[k]};
  }));
  gd.emit('plotly_click', {points: [{curveNumber: best.i, pointNumber: best.k,
    pointIndex: best.k, customdata: best.c, x: best.x, y: best.y}]});
  return best.c;
}"""


_ZOOM_CENTRE = """Plotly.relayout(document.querySelector('#wall-map .js-plotly-plot'),
                   {'xaxis.range': [106.62, 106.74], 'yaxis.range': [20.80, 20.88]})"""


_HOOK_AFTERPLOT = """() => document.querySelector('#wall-map .js-plotly-plot')
    .on('plotly_afterplot', () => { window.__iocPlotted = performance.now(); })"""


def main_thread_tasks(trace: bytes) -> dict[str, Any]:
    """The renderer main thread's tasks from a Chromium trace: wall time (``dur``) and the
    thread's own CPU time (``tdur``). On a shared machine the Long Tasks API's durations
    include time the OS gave other processes; ``tdur`` is what the page itself cost."""
    events = json.loads(trace)
    events = events["traceEvents"] if isinstance(events, dict) else events
    main = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("name") == "thread_name" and e.get("args", {}).get("name") == "CrRendererMain"
    }
    tasks = [e for e in events if e.get("name") == "RunTask" and e.get("ph") == "X"
             and (e.get("pid"), e.get("tid")) in main]  # fmt: skip
    cpu = [e.get("tdur", 0) / 1000 for e in tasks]
    return {
        "trace_tasks": len(tasks),
        "longest_task_cpu_ms": round(max(cpu), 1) if cpu else None,
        "tasks_over_1s_cpu": sum(c > 1000 for c in cpu),
        "longest_task_wall_ms_trace": round(max(e.get("dur", 0) for e in tasks) / 1000, 1)
        if tasks
        else None,
    }


def _wait_drawn(
    page: Page, *, clusters: bool | None, after: float | None = None, timeout_ms: int = 60_000
) -> dict[str, Any]:
    """The map's state once drawn; with ``after``, once Plotly has redrawn since then."""
    condition = "" if clusters is None else f" && d.clusters === {str(clusters).lower()}"
    if after is not None:
        condition += f" && (window.__iocPlotted || 0) > {after}"
    script = f"(() => {{ const d = ({_DRAWN})(); return d{condition} ? d : null; }})"
    handle = page.wait_for_function(script, timeout=timeout_ms)
    return dict(handle.json_value())


def _timed(page: Page, action: str, then: dict[str, Any]) -> float:
    start = float(page.evaluate("performance.now()"))
    page.evaluate(action)
    _wait_drawn(page, after=start, **then)
    return round(float(page.evaluate("window.__iocPlotted")) - start, 1)


def measure_wall(url: str, *, seconds: float, viewport: tuple[int, int]) -> dict[str, Any]:
    """Open the wall, watch it refresh for ``seconds``, then pan, zoom and switch layers."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.add_init_script(_OBSERVE)
            browser.start_tracing(page=page, categories=[
                "devtools.timeline", "disabled-by-default-devtools.timeline"])  # fmt: skip
            page.goto(url, wait_until="load")
            first = _wait_drawn(page, clusters=None)
            page.evaluate(_HOOK_AFTERPLOT)
            paints = {e["name"]: e["startTime"] for e in page.evaluate(
                "performance.getEntriesByType('paint').map(e => e.toJSON())")}  # fmt: skip
            nav = page.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
            steady_from = float(page.evaluate("performance.now()"))
            page.wait_for_timeout(seconds * 1000)  # (time.sleep would stall the page's events)
            steady = [t for t in page.evaluate("window.__iocRefreshes") if t >= steady_from]
            gaps = [(b - a) / 1000 for a, b in itertools.pairwise(steady)]
            zoom_in = (
                _timed(page, _CLICK_BIGGEST_CLUSTER, {"clusters": False})
                if first["clusters"]
                else _timed(page, _ZOOM_CENTRE, {"clusters": None})  # few devices: no clusters
            )
            interactions = {
                "zoom_in_ms": zoom_in,
                "layer_alerts_ms": _timed(
                    page, "document.querySelectorAll('#map-layer input')[2].click()",
                    {"clusters": None}),
                "layer_aqi_ms": _timed(
                    page, "document.querySelectorAll('#map-layer input')[1].click()",
                    {"clusters": None}),
                "zoom_out_ms": _timed(
                    page, """Plotly.relayout(document.querySelector('#wall-map .js-plotly-plot'),
                             {'xaxis.range': [106.0, 107.9], 'yaxis.range': [20.0, 21.4]})""",
                    {"clusters": True if first["clusters"] else None}),
            }  # fmt: skip
            page.wait_for_timeout(2000)
            tasks = page.evaluate("window.__iocLongTasks")
            trace = main_thread_tasks(browser.stop_tracing())
            Path("test-artifacts").mkdir(exist_ok=True)
            page.screenshot(path="test-artifacts/bench-wall.png")
        finally:
            browser.close()
    durations = [float(d) for _, d in tasks]
    # Tasks once the map is first drawn: live operation, apart from loading the page.
    live = [float(d) for start, d in tasks if float(start) >= float(first["at"])]
    return {
        "first_paint_ms": round(paints.get("first-paint", -1), 1),
        "first_contentful_paint_ms": round(paints.get("first-contentful-paint", -1), 1),
        "dom_content_loaded_ms": round(float(nav["domContentLoadedEventEnd"]), 1),
        "map_drawn_ms": round(float(first["at"]), 1),
        "marks_drawn": first["marks"],
        "refresh_interval_ms_median": round(statistics.median(gaps) * 1000) if gaps else None,
        "refresh_interval_ms_max": round(max(gaps) * 1000) if gaps else None,
        "refreshes_observed": len(steady),
        **interactions,
        "long_tasks": len(durations),
        "longest_task_ms": round(max(durations), 1) if durations else 0.0,
        "long_tasks_over_1s": sum(d > 1000 for d in durations),
        "longest_task_after_first_draw_ms": round(max(live), 1) if live else 0.0,
        "long_task_starts_ms": [round(float(s)) for s, d in tasks if float(d) > 1000],
        **trace,
    }
