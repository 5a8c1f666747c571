"""Figures built from plain data, checked without a browser."""

import math
from datetime import UTC, datetime, timedelta

import pytest

from ioc_dashboard import figures
from ioc_dashboard.api_client import DeviceView, TelemetryPoint, TelemetrySeries
from ioc_dashboard.i18n import texts
from ioc_dashboard.theme import STATUS_COLOURS

LABELS = texts()
SEEN = datetime(2026, 11, 26, 23, 50, tzinfo=UTC)


def _devices(online: int = 20, offline: int = 3, never_seen: int = 1) -> list[DeviceView]:
    statuses = ["online"] * online + ["offline"] * offline + ["never_seen"] * never_seen
    return [
        DeviceView(
            id=f"aq-{i + 1:03d}",
            kind="air_quality_station",
            commune_name="Phường An Biên",
            lat=20.80 + i * 0.005,
            lon=106.60 + i * 0.005,
            status=status,
            last_seen=None if status == "never_seen" else SEEN,
        )
        for i, status in enumerate(statuses)
    ]


def _traces(figure, prefix: str) -> list:
    return [t for t in figure.data if (t.meta or "").startswith(prefix)]


def test_one_marker_per_device_drawn_with_webgl():
    figure = figures.map_figure(_devices(), selected_id=None, labels=LABELS)
    device_traces = _traces(figure, "devices:")
    assert sum(len(t.x) for t in device_traces) == 24
    assert {t.type for t in device_traces} == {"scattergl"}


def test_markers_are_coloured_by_status_with_counts_in_the_legend():
    figure = figures.map_figure(_devices(), selected_id=None, labels=LABELS)
    by_status = {t.meta.removeprefix("devices:"): t for t in _traces(figure, "devices:")}
    assert {s: len(t.x) for s, t in by_status.items()} == {
        "online": 20,
        "offline": 3,
        "never_seen": 1,
    }
    for status, trace in by_status.items():
        assert trace.marker.color == STATUS_COLOURS[status]
    assert by_status["online"].name == "Trực tuyến (20)"
    assert by_status["offline"].name == "Mất kết nối (3)"


def test_markers_carry_the_device_id_for_click_selection():
    figure = figures.map_figure(_devices(2, 0, 0), selected_id=None, labels=LABELS)
    (online,) = [t for t in _traces(figure, "devices:") if len(t.x)]
    assert list(online.customdata) == ["aq-001", "aq-002"]


def test_the_selected_device_gets_a_ring_and_nothing_else_does():
    figure = figures.map_figure(_devices(), selected_id="aq-022", labels=LABELS)
    (ring,) = _traces(figure, "selected")
    assert (ring.x, ring.y) == ((106.60 + 21 * 0.005,), (20.80 + 21 * 0.005,))
    empty = figures.map_figure(_devices(), selected_id=None, labels=LABELS)
    assert len(_traces(empty, "selected")[0].x) == 0


def test_boundaries_are_one_line_trace_with_a_break_per_ring():
    figure = figures.map_figure([], selected_id=None, labels=LABELS)
    (communes,) = _traces(figure, "communes")
    assert communes.mode == "lines"
    assert list(communes.x).count(None) >= 114


def test_commune_names_are_in_the_centroid_hover():
    figure = figures.map_figure([], selected_id=None, labels=LABELS)
    (centroids,) = _traces(figure, "centroids")
    assert len(centroids.x) == 114
    assert "Phường Hồng Bàng" in centroids.text


def test_map_is_an_offline_cartesian_plot_with_true_proportions():
    figure = figures.map_figure(_devices(), selected_id=None, labels=LABELS)
    assert {t.type for t in figure.data} <= {"scatter", "scattergl"}
    assert figure.layout.yaxis.scaleanchor == "x"
    assert figure.layout.yaxis.scaleratio == pytest.approx(1 / math.cos(math.radians(20.85)))
    assert figure.layout.xaxis.visible is False and figure.layout.yaxis.visible is False


def test_refresh_patch_offset_points_at_the_device_traces():
    devices = _devices()
    figure = figures.map_figure(devices, selected_id="aq-001", labels=LABELS)
    patched = figures.map_device_traces(devices, selected_id="aq-001", labels=LABELS)
    start = figures.MAP_DYNAMIC_OFFSET
    assert [t.meta for t in figure.data[start : start + len(patched)]] == [t.meta for t in patched]


def test_markers_shrink_when_thousands_of_devices_share_the_map():
    few = figures.map_device_traces(_devices(10, 0, 0), selected_id=None, labels=LABELS)
    many = figures.map_device_traces(_devices(5000, 0, 0), selected_id=None, labels=LABELS)
    assert many[0].marker.size < few[0].marker.size


def test_series_is_drawn_in_vietnam_time_with_a_readable_unit():
    points = [TelemetryPoint(time=SEEN - timedelta(minutes=5 * i), value=30.0 + i) for i in (1, 0)]
    series = TelemetrySeries(device_id="aq-001", metric="pm25", unit="ug/m3", points=points)
    figure = figures.series_figure(series, metric_label="PM2.5", labels=LABELS)
    (trace,) = figure.data
    assert trace.x[-1] == datetime(2026, 11, 27, 6, 50)
    assert list(trace.y) == [31.0, 30.0]
    assert figure.layout.yaxis.title.text == "PM2.5 (µg/m³)"
    assert figure.layout.title.text == "aq-001 · PM2.5"


def test_an_empty_series_says_so_instead_of_drawing_empty_axes():
    series = TelemetrySeries(device_id="aq-001", metric="pm25", unit="ug/m3", points=[])
    figure = figures.series_figure(series, metric_label="PM2.5", labels=LABELS)
    assert figure.data == ()
    assert figure.layout.annotations[0].text == LABELS["no_data"]
    assert figure.layout.title.text == "aq-001 · PM2.5"
