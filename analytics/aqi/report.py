"""Hourly and daily AQI for every station and hour or day in a data set, as JSON-ready models.

Every hour that has any hourly mean for a station gets a row, and every day touched by such an
hour; when the data do not allow an AQI the row says ``aqi: null`` rather than leaving readers
to wonder whether the hour was seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from pydantic import BaseModel

from analytics.aqi.breakpoints import Metric
from analytics.aqi.clock import day_of, to_local
from analytics.aqi.daily import daily_aqi
from analytics.aqi.hourly import HourlyMeans, hourly_aqi

__all__ = ["AqiReport", "DailyRow", "HourlyRow", "aqi_report"]


class HourlyRow(BaseModel):
    station: str
    time: datetime  # end of the hour, Vietnam time (+07:00)
    aqi: int | None
    dominant: Metric | None


class DailyRow(BaseModel):
    station: str
    date: date  # the 01:00–00:00 day
    aqi: int | None
    dominant: Metric | None


class AqiReport(BaseModel):
    hourly: list[HourlyRow]
    daily: list[DailyRow]


def aqi_report(data: Mapping[str, HourlyMeans]) -> AqiReport:
    """Hourly and daily AQI of every station, sorted by station then time."""
    hourly: list[HourlyRow] = []
    daily: list[DailyRow] = []
    for station in sorted(data):
        means = data[station]
        hours = sorted({to_local(t) for series in means.values() for t in series})
        for hour in hours:
            result = hourly_aqi(means, hour)
            hourly.append(
                HourlyRow(station=station, time=hour, aqi=result.aqi, dominant=result.dominant)
            )
        for day in sorted({day_of(h) for h in hours}):
            result = daily_aqi(means, day)
            daily.append(
                DailyRow(station=station, date=day, aqi=result.aqi, dominant=result.dominant)
            )
    return AqiReport(hourly=hourly, daily=daily)
