"""Every text the wall shows, in one place, so a language toggle is a lookup and not a hunt.

Vietnamese is the default: the wall hangs in Hai Phong's operations centre. The English table
must carry the same keys (a unit test checks), so switching never falls back to a raw key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Language = Literal["vi", "en"]
DEFAULT_LANGUAGE: Language = "vi"

# Metrics offered in the device panel, in display order; labels are the same in both languages
# except for the two physical quantities.
METRICS: tuple[str, ...] = ("pm25", "pm10", "no2", "so2", "co", "o3", "temperature", "humidity")

_VI: dict[str, str] = {
    "title": "Trung tâm điều hành thông minh Hải Phòng",
    "subtitle": "Giám sát thiết bị IoT đô thị",
    "kpi_online": "Trạm trực tuyến",
    "station": "Trạm quan trắc",
    "status_online": "Trực tuyến",
    "status_offline": "Mất kết nối",
    "status_never_seen": "Chưa kết nối",
    "last_seen": "Lần cuối",
    "never": "chưa bao giờ",
    "commune": "Xã/phường",
    "metric": "Chỉ số",
    "no_station": "Chưa có trạm nào",
    "no_data": "Không có dữ liệu trong 24 giờ",
    "api_error": "Không đọc được dữ liệu",
    "updated": "Cập nhật lúc",
    "offshore_hint": "Đặc khu Bạch Long Vĩ ↘ ngoài khơi",
    "time_axis": "Giờ Việt Nam (UTC+7)",
    "metric_pm25": "PM2.5",
    "metric_pm10": "PM10",
    "metric_no2": "NO₂",
    "metric_so2": "SO₂",
    "metric_co": "CO",
    "metric_o3": "O₃",
    "metric_temperature": "Nhiệt độ",
    "metric_humidity": "Độ ẩm",
}

_EN: dict[str, str] = {
    "title": "Hai Phong Intelligent Operations Centre",
    "subtitle": "Urban IoT device monitoring",
    "kpi_online": "Stations online",
    "station": "Monitoring station",
    "status_online": "Online",
    "status_offline": "Offline",
    "status_never_seen": "Never seen",
    "last_seen": "Last seen",
    "never": "never",
    "commune": "Commune/ward",
    "metric": "Metric",
    "no_station": "No station yet",
    "no_data": "No data in the last 24 hours",
    "api_error": "Cannot read data",
    "updated": "Updated at",
    "offshore_hint": "Bạch Long Vĩ special zone ↘ offshore",
    "time_axis": "Vietnam time (UTC+7)",
    "metric_pm25": "PM2.5",
    "metric_pm10": "PM10",
    "metric_no2": "NO₂",
    "metric_so2": "SO₂",
    "metric_co": "CO",
    "metric_o3": "O₃",
    "metric_temperature": "Temperature",
    "metric_humidity": "Humidity",
}

TEXTS: Mapping[Language, Mapping[str, str]] = {"vi": _VI, "en": _EN}


def texts(language: Language = DEFAULT_LANGUAGE) -> Mapping[str, str]:
    return TEXTS[language]
