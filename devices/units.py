"""The curated set of UCUM unit codes a device profile may use.

UCUM (ucum.org) gives every unit one unambiguous ASCII code (``ug/m3``, ``Cel``, ``kW.h``),
so the same string is safe in YAML, JSON, SQL and URLs, and a downstream system can convert
without a lookup table of spellings. The set is deliberately small: adding a unit here is a
reviewed change, which stops "ugm3", "µg/m³" and "ug/Nm3" from all appearing in one database.
``symbol`` is for people (the wall, reports), never for matching.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["UNITS", "Unit", "is_known_unit"]


@dataclass(frozen=True, slots=True)
class Unit:
    """A UCUM code with how to display it and what it measures."""

    code: str
    symbol: str
    meaning: str


_UNITS: tuple[Unit, ...] = (
    # Concentrations. VN_AQI and QCVN 05:2023 state every pollutant, CO included, in µg/m³.
    Unit("ug/m3", "µg/m³", "mass concentration in air (PM, NO2, SO2, CO, O3 per VN_AQI)"),
    Unit("mg/m3", "mg/m³", "mass concentration in air, for high ranges (industrial emissions)"),
    Unit("mg/L", "mg/L", "mass concentration in water (residual chlorine)"),
    # Weather.
    Unit("Cel", "°C", "temperature in degrees Celsius"),
    Unit("%", "%", "percentage: relative humidity, occupancy, dimming level"),
    Unit("hPa", "hPa", "atmospheric pressure"),
    Unit("mm", "mm", "rainfall depth"),
    Unit("mm/h", "mm/h", "rainfall intensity"),
    Unit("m/s", "m/s", "wind or water speed"),
    Unit("deg", "°", "angle, e.g. wind direction clockwise from true north"),
    # Lengths, speeds.
    Unit("m", "m", "length or water level in metres"),
    Unit("cm", "cm", "length or water level in centimetres"),
    Unit("km/h", "km/h", "vehicle speed"),
    # Counts (UCUM annotations in braces are dimensionless counts of the named thing).
    Unit("{vehicle}", "vehicles", "number of vehicles in the reporting interval"),
    Unit("{vehicle}/h", "vehicles/h", "traffic flow rate"),
    Unit("{count}", "", "dimensionless count or code (fault codes, events)"),
    Unit("1", "", "dimensionless: ratios, and 0/1 states (on/off, open/closed, healthy)"),
    # Electrical.
    Unit("W", "W", "active power of a single load"),
    Unit("kW", "kW", "active power of a feeder or cabinet"),
    Unit("kW.h", "kWh", "energy, as a cumulative meter reading"),
    Unit("V", "V", "voltage"),
    Unit("A", "A", "current"),
    Unit("Hz", "Hz", "frequency"),
    # Water.
    Unit("bar", "bar", "water pressure in a supply network"),
    Unit("kPa", "kPa", "pressure, where the device reports SI"),
    Unit("m3", "m³", "volume, as a cumulative totaliser reading"),
    Unit("m3/h", "m³/h", "volumetric flow in a supply network"),
    Unit("L/s", "L/s", "volumetric flow in drains and open channels"),
    # Other.
    Unit("s", "s", "duration"),
    Unit("lx", "lx", "illuminance"),
    Unit(
        "dB", "dB", "sound level (A-weighting is a property of the device, stated in its profile)"
    ),
)

UNITS: MappingProxyType[str, Unit] = MappingProxyType({unit.code: unit for unit in _UNITS})


def is_known_unit(code: str) -> bool:
    """True for a code in the curated set; UCUM codes are case-sensitive, so is this."""
    return code in UNITS
