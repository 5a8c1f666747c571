"""Which series the statistical detectors watch, and on what scale they compare them.

Defaults are the series whose level is set by conditions shared across the city (weather,
daylight, network demand, storm runoff), so a station disagreeing with its own history and
with its neighbours is a sensor fault. Left out by default: PM2.5, PM10, NO2, CO and SO2,
whose levels are local (a fire, a truck queue, a factory stack: a real episode at one station
is what thresholds are for, not a fault), and tidal water levels, whose phase differs along
the rivers so neighbours disagree by design. ``IOC_QUALITY_ANOMALY_SERIES`` overrides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from analytics.quality.catalogue import parse_series_list
from devices.profiles import MetricSpec

ANOMALY_SERIES: Mapping[str, frozenset[str]] = {
    "air_quality_station": frozenset({"o3", "temperature", "humidity", "pressure"}),
    "weather_station": frozenset({"temperature", "humidity", "pressure"}),
    "water_supply_sensor": frozenset({"pressure"}),
    "drainage_sensor": frozenset({"level"}),
}
# Units on which a change is multiplicative (a concentration doubling, a drain filling), so
# residuals are taken on log values; elsewhere (temperature, humidity, pressure) differences.
LOG_UNITS = frozenset({"ug/m3", "cm", "L/s", "m3/h", "mg/L"})
LOG_FLOOR_SCALE = 0.08  # smallest residual spread on a log scale: 8 %
# Concentrations wander station by station for hours (O3 titrated by a street's NO, a plume
# passing): a short warm-up cannot see that wander, so their spread starts wider.
LOG_FLOOR_BY_UNIT = {"ug/m3": 0.3}
LINEAR_FLOOR_SHARE = 0.005  # smallest spread on a linear scale: 0.5 % of the profile's range


def anomaly_series(text: str | None) -> dict[str, frozenset[str]]:
    if text is None:
        return dict(ANOMALY_SERIES)
    return parse_series_list(text)


class Scale:
    """How one metric is compared: log or linear, and the smallest spread trusted."""

    __slots__ = ("floor", "log", "unit")

    def __init__(self, spec: MetricSpec) -> None:
        self.log = spec.unit in LOG_UNITS and spec.min >= 0
        self.unit = spec.unit
        if self.log:
            self.floor = LOG_FLOOR_BY_UNIT.get(spec.unit, LOG_FLOOR_SCALE)
        else:
            self.floor = LINEAR_FLOOR_SHARE * (spec.max - spec.min)

    def to(self, value: float) -> float:
        return math.log(max(value, 1e-3)) if self.log else value

    def describe(self, residual: float) -> str:
        """A residual in words: "+42 %" on a log scale, "+3.1 Cel" on a linear one."""
        if self.log:
            return f"{100 * (math.exp(residual) - 1):+.0f} %"
        return f"{residual:+.3g} {self.unit}"
