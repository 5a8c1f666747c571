"""The VN_AQI breakpoint table of QĐ 1459/QĐ-TCMT and the linear interpolation between rows.

Kept as data, in the decision's own units (µg/m³ for every parameter, CO included), so a reviewer
can compare it line by line with the signed text. Above the top breakpoint the decision is
silent; we cap at 500 (see :data:`AQI_MAX`) rather than extrapolate, because the bands stop at
500 and an extrapolated 730 would suggest a precision the method does not have.
"""

from __future__ import annotations

import math
from typing import Final, Literal

__all__ = ["AQI_MAX", "BREAKPOINTS", "METRICS", "Column", "Metric", "round_aqi", "sub_index"]

Metric = Literal["pm25", "pm10", "o3", "co", "so2", "no2"]
# Order also breaks ties for the dominant parameter: PM first, as the decision requires PM.
METRICS: Final[tuple[Metric, ...]] = ("pm25", "pm10", "o3", "no2", "so2", "co")

Column = Literal["o3_1h", "o3_8h", "co", "so2", "no2", "pm10", "pm25"]

AQI_MAX: Final = 500
_INDEX: Final = (0, 50, 100, 150, 200, 300, 400, 500)

# One row per column: the concentration (µg/m³) at each index of _INDEX. O3 8 h stops at 300.
BREAKPOINTS: Final[dict[Column, tuple[float, ...]]] = {
    "o3_1h": (0, 160, 200, 300, 400, 800, 1000, 1200),
    "o3_8h": (0, 100, 120, 170, 210, 400),
    "co": (0, 10000, 30000, 45000, 60000, 90000, 120000, 150000),
    "so2": (0, 125, 350, 550, 800, 1600, 2100, 2630),
    "no2": (0, 100, 200, 700, 1200, 2350, 3100, 3850),
    "pm10": (0, 50, 150, 250, 350, 420, 500, 600),
    "pm25": (0, 25, 50, 80, 150, 250, 350, 500),
}


def sub_index(column: Column, concentration: float) -> float | None:
    """The unrounded sub-index of one parameter, linear between neighbouring breakpoints.

    Returns 500 above the top breakpoint, except for O3 8 h, whose table ends at 400 µg/m³
    (index 300): there it returns ``None`` and the daily rule falls back to the 1-hour column.
    """
    if not math.isfinite(concentration) or concentration < 0:
        raise ValueError(
            f"{column}: concentration must be a finite value >= 0, not {concentration}"
        )
    bps = BREAKPOINTS[column]
    for i in range(len(bps) - 1):
        lo, hi = bps[i], bps[i + 1]
        if concentration <= hi:
            return (_INDEX[i + 1] - _INDEX[i]) / (hi - lo) * (concentration - lo) + _INDEX[i]
    return None if column == "o3_8h" else float(AQI_MAX)


def round_aqi(value: float) -> int:
    """Half up, as people round (Python's round() would make 42.5 into 42)."""
    return min(AQI_MAX, math.floor(value + 0.5))
