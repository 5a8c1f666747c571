"""VN_AQI per QĐ 1459/QĐ-TCMT: hourly (PM NowCast) and daily AQI per station.

Pure functions over hourly means in µg/m³, stamped at the end of their hour; no database. See
``docs/aqi.md`` for the rules implemented and the choices the decision leaves open.
"""

from analytics.aqi.bands import BANDS, Advice, Band, band_for
from analytics.aqi.breakpoints import AQI_MAX, BREAKPOINTS, METRICS, Metric, round_aqi, sub_index
from analytics.aqi.clock import VN_TZ, day_hours, day_of
from analytics.aqi.csv_input import read_long_csv
from analytics.aqi.daily import MIN_HOURS, MIN_HOURS_8H, daily_aqi, max_8h_mean
from analytics.aqi.errors import AqiError, AqiInputError
from analytics.aqi.hourly import HourlyMeans, hourly_aqi
from analytics.aqi.nowcast import nowcast
from analytics.aqi.report import AqiReport, DailyRow, HourlyRow, aqi_report
from analytics.aqi.result import AqiResult, combine
from analytics.aqi.units import to_ugm3

__all__ = [
    "AQI_MAX",
    "BANDS",
    "BREAKPOINTS",
    "METRICS",
    "MIN_HOURS",
    "MIN_HOURS_8H",
    "VN_TZ",
    "Advice",
    "AqiError",
    "AqiInputError",
    "AqiReport",
    "AqiResult",
    "Band",
    "DailyRow",
    "HourlyMeans",
    "HourlyRow",
    "Metric",
    "aqi_report",
    "band_for",
    "combine",
    "daily_aqi",
    "day_hours",
    "day_of",
    "hourly_aqi",
    "max_8h_mean",
    "nowcast",
    "read_long_csv",
    "round_aqi",
    "sub_index",
    "to_ugm3",
]
