"""What the wall draws and decides, from plain data: map, tiles, KPIs, alerts, charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ioc_dashboard import alerts_view, figures, map_view, tiles
from ioc_dashboard.api_models import (
    Alert,
    DeviceView,
    Forecast,
    TelemetrySeries,
    ThresholdRule,
    WallMap,
)
from ioc_dashboard.i18n import TEXTS, texts
from ioc_dashboard.selection import applicable_rules, local_time_text

LABELS = texts()
NOW = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
COLOURS = (("online", "#2ecc71"), ("never_seen", "#d5d8dc"), ("offline", "#8a949e"))
CLASSES = [{"key": k, "colour": c, "label_vi": k, "label_en": k.upper()} for k, c in COLOURS]


def test_both_languages_have_the_same_keys() -> None:
    assert TEXTS["vi"].keys() == TEXTS["en"].keys()


def _points(n: int) -> WallMap:
    points = [{"id": f"d{i}", "kind": "street_light", "lat": 20.8, "lon": 106.6 + i * 1e-3,
               "cls": "offline" if i % 4 == 0 else "online"} for i in range(n)]  # fmt: skip
    return WallMap.model_validate(
        {
            "layer": "status",
            "mode": "points",
            "total": n,
            "classes": CLASSES,
            "points": points,
            "clusters": [],
        }
    )


def test_points_one_webgl_trace_per_class_and_a_fixed_trace_count() -> None:
    traces = map_view.device_traces(_points(8), lang="vi", labels=LABELS, selected="d3")
    assert len(traces) == map_view.DEVICE_TRACES + 1  # the layer's classes, spares, the ring
    online = next(t for t in traces if t.meta == "devices:online")
    assert online.type == "scattergl" and len(online.x) == 6 and online.name == "online (6)"
    assert list(traces[-1].x) == [pytest.approx(106.603)]  # the ring is on the selected one


def test_clusters_carry_their_box_and_are_sized_by_count() -> None:
    big = {
        "lat": 20.8,
        "lon": 106.6,
        "count": 400,
        "cls": "online",
        "counts": {"online": 390, "offline": 10},
        "bbox": [106.5, 20.7, 106.7, 20.9],
    }
    small = {
        "lat": 20.9,
        "lon": 106.7,
        "count": 3,
        "cls": "offline",
        "counts": {"offline": 3},
        "bbox": [106.6, 20.8, 106.8, 21.0],
    }
    wall = WallMap.model_validate(
        {
            "layer": "status",
            "mode": "clusters",
            "total": 403,
            "classes": CLASSES,
            "points": [],
            "clusters": [big, small],
        }
    )
    traces = map_view.device_traces(wall, lang="en", labels=texts("en"), selected=None)
    online = next(t for t in traces if t.meta == "devices:online")
    assert online.customdata[0] == "cluster:106.50000,20.70000,106.70000,20.90000"
    assert (
        online.marker.size[0]
        > next(t for t in traces if t.meta == "devices:offline").marker.size[0]
    )
    assert online.name == "ONLINE (390)"  # counts of the class in every cluster
    assert map_view.clicked({"points": [{"customdata": online.customdata[0]}]}) == (
        "cluster", "106.50000,20.70000,106.70000,20.90000")  # fmt: skip
    assert map_view.clicked({"points": [{"customdata": "aq-1"}]}) == ("device", "aq-1")
    assert map_view.clicked({"points": [{"x": 1}]}) is None


def test_view_follows_pan_and_zoom_and_resets() -> None:
    relayout = {"xaxis.range[0]": 106.7, "xaxis.range[1]": 106.5,
                "yaxis.range[0]": 20.8, "yaxis.range[1]": 20.9}  # fmt: skip
    assert map_view.view_from_relayout(relayout, None) == (106.5, 20.8, 106.7, 20.9)
    paired = {"xaxis.range": [106.5, 106.7], "yaxis.range": [20.8, 20.9]}
    assert map_view.view_from_relayout(paired, None) == (106.5, 20.8, 106.7, 20.9)
    assert map_view.view_from_relayout({"xaxis.autorange": True}, (1, 2, 3, 4)) is None
    assert map_view.view_from_relayout({"dragmode": "pan"}, (1, 2, 3, 4)) == (1, 2, 3, 4)
    x0, y0, x1, y1 = map_view.zoom_box((106.6, 20.8, 106.6, 20.8))  # one point: ~1 km box
    assert x1 - x0 == pytest.approx(0.012) and y1 - y0 == pytest.approx(0.012)


def test_commune_names_show_only_when_zoomed_in() -> None:
    figure = map_view.map_figure(labels=LABELS, lang="vi")
    names = figure.data[map_view.NAMES_TRACE]
    assert names.meta == "commune-names" and len(names.text) == 114 and names.visible is False
    assert not map_view.names_visible(None)
    assert not map_view.names_visible(map_view.INITIAL_BOX)
    assert map_view.names_visible((106.6, 20.8, 106.8, 20.9))


def test_tiles_cover_the_view_with_at_most_the_limit() -> None:
    box = (106.5, 20.7, 106.9, 20.95)
    images = tiles.tile_images("http://tiles.local/{z}/{x}/{y}.png", box)
    assert 0 < len(images) <= tiles.MAX_TILES
    assert all(i["source"].startswith("http://tiles.local/") for i in images)
    west = min(i["x"] for i in images)
    east = max(i["x"] + i["sizex"] for i in images)
    north = max(i["y"] for i in images)
    south = min(i["y"] - i["sizey"] for i in images)
    assert west <= box[0] and east >= box[2] and south <= box[1] and north >= box[3]


def _alert(i: int, severity: str, state: str = "open", minutes: int = 0) -> Alert:
    return Alert(id=i, kind="threshold", severity=severity, state=state, title=f"a{i}",
                 device_id="aq-1", opened_at=NOW - timedelta(minutes=minutes))  # type: ignore[arg-type]  # fmt: skip


def test_alert_feed_orders_new_and_severe_first_and_rings_for_new_critical() -> None:
    alerts = [_alert(1, "warning"), _alert(2, "critical", "acknowledged"),
              _alert(3, "critical", minutes=5), _alert(4, "critical", minutes=1)]  # fmt: skip
    assert [a.id for a in alerts_view.ordered(alerts)] == [4, 3, 1, 2]
    assert alerts_view.ringing(alerts) == [3, 4]
    rows = alerts_view.alert_rows(alerts, labels=LABELS, selected=3)
    classes = {r.id["index"]: r.className for r in rows}
    assert "flash" in classes[4] and "flash" not in classes[2] and "selected" in classes[3]
    assert (
        alerts_view.alert_rows([], labels=LABELS, selected=None)[0].children
        == "Không có cảnh báo đang mở"
    )


def _rule(**overrides: object) -> ThresholdRule:
    data = {"id": 1, "version": 1, "name": "pm25", "kind": "air_quality_station",
            "metric": "pm25", "scope_type": "all", "comparison": "above",
            "levels": {"warning": 50, "critical": 90}, "enabled": True}  # fmt: skip
    return ThresholdRule.model_validate({**data, **overrides})


def test_rules_apply_by_scope() -> None:
    device = DeviceView(id="aq-1", kind="air_quality_station", tenant="sonnmt",
                        commune_code="11407", status="online")  # fmt: skip
    rules = [_rule(id=1), _rule(id=2, scope_type="device", scope_value="aq-2"),
             _rule(id=3, scope_type="commune", scope_value="11407"),
             _rule(id=4, kind="weather_station")]  # fmt: skip
    assert [r.id for r in applicable_rules(rules, device)] == [1, 3]


def test_series_draws_thresholds_levels_and_the_forecast_band() -> None:
    series = TelemetrySeries.model_validate({"device_id": "aq-1", "metric": "pm25",
        "unit": "ug/m3", "points": [{"time": NOW, "value": 40.0}]})  # fmt: skip
    forecast = Forecast.model_validate({"items": [
        {"time": NOW + timedelta(hours=h), "p10": 30, "p50": 45, "p90": 70, "horizon_h": h}
        for h in (1, 2)]})  # fmt: skip
    figure = figures.series_figure(series, metric_label="PM2.5", labels=LABELS,
                                   rules=[_rule()], forecast=forecast,
                                   levels={"alert_level": 300.0, "danger_level": None})  # fmt: skip
    metas = [t.meta for t in figure.data]
    assert metas == ["forecast-p90", "forecast-p10", "forecast-p50", "series"]
    assert figure.data[1].fill == "tonexty"
    lines = sorted(s.y0 for s in figure.layout.shapes)
    assert lines == [50, 90, 300]
    assert figure.data[3].x[0] == datetime(2026, 11, 27, 8, 0)  # Vietnam wall-clock time


def test_local_time_is_vietnam_time() -> None:
    assert local_time_text(NOW, LABELS) == "27/11/2026 08:00"
    assert local_time_text(None, LABELS) == "chưa bao giờ"


def test_an_unchanged_feed_or_map_has_the_same_digest() -> None:
    from ioc_dashboard.callbacks.live import map_digest

    alerts = [_alert(1, "warning"), _alert(2, "critical")]
    same = alerts_view.digest(alerts[::-1], selected=None, lang="vi")
    assert alerts_view.digest(alerts, selected=None, lang="vi") == same
    assert alerts_view.digest(alerts, selected=2, lang="vi") != same
    acked = [_alert(1, "warning"), _alert(2, "critical", "acknowledged")]
    assert alerts_view.digest(acked, selected=None, lang="vi") != same
    wall = _points(5)
    box = (106.5, 20.7, 106.9, 21.0)
    assert map_digest(wall, lang="vi", selected=None, box=box) == map_digest(
        _points(5), lang="vi", selected=None, box=box)  # fmt: skip
    assert map_digest(wall, lang="vi", selected=None, box=box) != map_digest(
        _points(6), lang="vi", selected=None, box=box)  # fmt: skip
