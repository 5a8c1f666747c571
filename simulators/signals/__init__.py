"""Per-kind signal models; each class documents the shape it follows and why."""

from simulators.signals.air import AirQualitySignal, WeatherSignal
from simulators.signals.base import Signal
from simulators.signals.lighting import CabinetSignal, LightControl, StreetLightSignal
from simulators.signals.traffic import TrafficSignal
from simulators.signals.water import DrainageSignal, GaugeSignal, GaugeSite, WaterSupplySignal

__all__ = [
    "AirQualitySignal",
    "CabinetSignal",
    "DrainageSignal",
    "GaugeSignal",
    "GaugeSite",
    "LightControl",
    "Signal",
    "StreetLightSignal",
    "TrafficSignal",
    "WaterSupplySignal",
    "WeatherSignal",
]
