"""ppb/ppm to µg/m³ at 25 °C and 1 atm, the reference conditions of VN_AQI and QCVN 05:2023.

Gas analysers often report mixing ratios; VN_AQI's table is in µg/m³ for every gas, CO included.
24.45 L/mol is the molar volume of an ideal gas at 25 °C and 101.325 kPa.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["MOLAR_MASS", "MOLAR_VOLUME_L", "to_ugm3"]

MOLAR_VOLUME_L: Final = 24.45
# g/mol; particulate matter has none, so PM cannot be given as a mixing ratio.
MOLAR_MASS: Final[dict[str, float]] = {"o3": 48.00, "no2": 46.01, "so2": 64.07, "co": 28.01}
_FACTOR: Final[dict[str, float]] = {"ppb": 1.0, "ppm": 1000.0}


def to_ugm3(value: float, unit: Literal["ppb", "ppm", "ug/m3"], metric: str) -> float:
    """The concentration in µg/m³ of ``value`` given in ``unit`` for gas ``metric``."""
    if unit == "ug/m3":
        return value
    if metric not in MOLAR_MASS:
        raise ValueError(
            f"{metric} has no molar mass: only {sorted(MOLAR_MASS)} convert from {unit}"
        )
    if unit not in _FACTOR:
        raise ValueError(f"unknown unit {unit!r}: use ppb, ppm or ug/m3")
    return value * _FACTOR[unit] * MOLAR_MASS[metric] / MOLAR_VOLUME_L
