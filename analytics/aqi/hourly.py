"""Hourly VN_AQI: NowCast for PM10 and PM2.5, the 1-hour mean for the gases."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final, Literal

from analytics.aqi.breakpoints import Column, Metric, sub_index
from analytics.aqi.clock import HOUR
from analytics.aqi.nowcast import HOURS, nowcast
from analytics.aqi.result import AqiResult, combine

__all__ = ["HourlyMeans", "hourly_aqi"]

# metric -> hour-end stamp (timezone-aware) -> hourly mean in µg/m³; a missing hour is absent.
HourlyMeans = Mapping[Metric, Mapping[datetime, float]]

_PM: Final[tuple[Literal["pm25", "pm10"], ...]] = ("pm25", "pm10")
_GAS_COLUMNS: Final[tuple[tuple[Metric, Column], ...]] = (
    ("o3", "o3_1h"),
    ("no2", "no2"),
    ("so2", "so2"),
    ("co", "co"),
)


def hourly_aqi(means: HourlyMeans, at: datetime) -> AqiResult:
    """The hourly AQI of one station for the hour ending at ``at``.

    A gas without a value for this very hour simply does not take part; PM takes part only when
    its NowCast exists (2 of the last 3 hours), and without PM there is no AQI.
    """
    subs: dict[Metric, float] = {}
    for metric in _PM:
        series = means.get(metric, {})
        value = nowcast([series.get(at - i * HOUR) for i in range(HOURS)])
        if value is not None:
            subs[metric] = _index(metric, value)
    for gas, column in _GAS_COLUMNS:
        mean = means.get(gas, {}).get(at)
        if mean is not None:
            subs[gas] = _index(column, mean)
    return combine(subs)


def _index(column: Column, value: float) -> float:
    result = sub_index(column, value)
    assert result is not None, "only O3 8 h has no value above its table"
    return result
