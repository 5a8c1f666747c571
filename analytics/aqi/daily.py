"""Daily VN_AQI over the 01:00–00:00 day (see :mod:`analytics.aqi.clock`).

Data requirements are ours, since the decision sets none: a parameter takes part in a day only
with at least :data:`MIN_HOURS` of its 24 hourly means, and an 8-hour O3 mean needs
:data:`MIN_HOURS_8H` of its 8 hours. Both are the 75 % completeness rule of EU Directive
2008/50/EC (Annex VII/XI) and US EPA practice: a mean over a third of a day is not a daily mean,
and a day maximum over a few hours would understate the peak.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from statistics import fmean
from typing import Final

from analytics.aqi.breakpoints import Metric, sub_index
from analytics.aqi.clock import HOUR, day_hours
from analytics.aqi.hourly import HourlyMeans
from analytics.aqi.result import AqiResult, combine

__all__ = ["MIN_HOURS", "MIN_HOURS_8H", "daily_aqi", "max_8h_mean"]

MIN_HOURS: Final = 18  # of 24: 75 % completeness (EU 2008/50/EC); the decision is silent
MIN_HOURS_8H: Final = 6  # of 8, same 75 % rule for each running 8-hour mean


def daily_aqi(means: HourlyMeans, day: date) -> AqiResult:
    """The daily AQI of one station for ``day``.

    PM: the 24-hour mean. SO2, NO2, CO: the day's highest hourly mean. O3: the larger of the
    1-hour-column AQI of the highest hourly mean and the 8-hour-column AQI of the highest 8-hour
    running mean; above 400 µg/m³ (8 h) the table ends, and the 1-hour result alone counts, as
    the decision says. With no valid 8-hour mean, the 1-hour result alone counts too.
    """
    hours = day_hours(day)
    subs: dict[Metric, float] = {}
    for metric, series in means.items():
        values = [series[h] for h in hours if h in series]
        if len(values) < MIN_HOURS:
            continue
        if metric in ("pm25", "pm10"):
            subs[metric] = _must(sub_index(metric, fmean(values)))
        elif metric == "o3":
            one_hour = _must(sub_index("o3_1h", max(values)))
            peak_8h = max_8h_mean(series, hours)
            eight = None if peak_8h is None else sub_index("o3_8h", peak_8h)
            subs[metric] = one_hour if eight is None else max(one_hour, eight)
        else:
            subs[metric] = _must(sub_index(metric, max(values)))
    return combine(subs)


def max_8h_mean(series: Mapping[datetime, float], hours: list[datetime]) -> float | None:
    """Highest running 8-hour mean among those ending at each of ``hours``.

    Windows ending early in the day reach into the previous one, as in EU and US practice, so a
    morning peak is not cut in two at the day boundary.
    """
    best: float | None = None
    for end in hours:
        window = [series[t] for t in (end - i * HOUR for i in range(8)) if t in series]
        if len(window) >= MIN_HOURS_8H:
            mean = fmean(window)
            best = mean if best is None else max(best, mean)
    return best


def _must(value: float | None) -> float:
    assert value is not None, "only O3 8 h has no value above its table"
    return value
