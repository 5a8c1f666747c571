"""What the wall chooses to show, independent of Dash."""

from datetime import UTC, datetime, timedelta

from ioc_dashboard.api_client import DeviceView
from ioc_dashboard.i18n import METRICS, TEXTS, texts
from ioc_dashboard.selection import (
    CHART_WINDOW,
    kpi_online_text,
    local_time_text,
    pick_device,
    status_counts,
    telemetry_since,
)

SEEN = datetime(2026, 11, 26, 23, 50, tzinfo=UTC)


def _device(device_id: str, status: str = "online") -> DeviceView:
    return DeviceView(
        id=device_id,
        kind="air_quality_station",
        lat=20.85,
        lon=106.68,
        status=status,
        last_seen=None if status == "never_seen" else SEEN,
    )


def test_a_clicked_device_stays_selected():
    devices = [_device("aq-001"), _device("aq-002", "offline")]
    assert pick_device(devices, "aq-002").id == "aq-002"


def test_without_a_selection_the_first_online_device_is_shown():
    devices = [_device("aq-001", "offline"), _device("aq-002"), _device("aq-003")]
    assert pick_device(devices, None).id == "aq-002"


def test_a_vanished_selection_falls_back_to_the_first_online_device():
    devices = [_device("aq-001", "never_seen"), _device("aq-002")]
    assert pick_device(devices, "aq-999").id == "aq-002"


def test_with_nothing_online_the_first_device_is_shown_and_with_nothing_none():
    assert pick_device([_device("aq-001", "offline")], None).id == "aq-001"
    assert pick_device([], None) is None


def test_kpi_counts_online_over_total():
    devices = [_device("a"), _device("b"), _device("c", "offline"), _device("d", "never_seen")]
    assert kpi_online_text(devices) == "2 / 4"
    assert kpi_online_text([]) == "0 / 0"
    assert status_counts(devices) == {"online": 2, "offline": 1, "never_seen": 1}


def test_chart_window_ends_at_the_last_reading_so_offline_stations_show_their_last_day():
    assert telemetry_since(_device("a", "offline")) == SEEN - CHART_WINDOW
    now = datetime(2026, 11, 27, tzinfo=UTC)
    assert telemetry_since(_device("b", "never_seen"), now=now) == now - timedelta(hours=24)


def test_times_are_shown_in_vietnam_time():
    assert local_time_text(SEEN, texts()) == "27/11/2026 06:50"
    assert local_time_text(None, texts()) == "chưa bao giờ"


def test_vietnamese_is_the_default_and_english_has_every_key():
    assert texts()["title"] == "Trung tâm điều hành thông minh Hải Phòng"
    assert texts()["status_online"] == "Trực tuyến"
    assert texts()["status_offline"] == "Mất kết nối"
    assert set(TEXTS["vi"]) == set(TEXTS["en"])
    for metric in METRICS:
        assert f"metric_{metric}" in TEXTS["vi"]
