"""VN_AQI forecast from a PM2.5 forecast, by the rules of :mod:`analytics.aqi` (QĐ 1459).

The hourly AQI of PM2.5 is the sub-index of its NowCast over the last 12 hours, so a forecast
hour's AQI depends on the observed hours before the origin as well as on the forecast ones:
each quantile path (p10, p50, p90) is appended to the observed means and run through the same
``hourly_aqi`` the stored AQI uses. The NowCast and the sub-index both rise with every input,
so the quantile paths map to AQI bands of the same order (an approximation: the NowCast's weight
also depends on the spread of the window). Gases are not forecast; PM2.5 dominates Hai Phong's
hourly AQI in the stored history, and a forecast AQI says it is PM2.5's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from analytics.aqi import hourly_aqi
from analytics.aqi.nowcast import HOURS
from analytics.forecast.grid import Grid

__all__ = ["aqi_paths"]

FloatArray = npt.NDArray[np.float64]
HOUR = timedelta(hours=1)


def aqi_paths(
    observed: Grid, first_step: datetime, paths: list[FloatArray]
) -> list[list[int | None]]:
    """AQI per forecast hour for each quantile path of hourly PM2.5 means (µg/m³).

    ``observed`` is the hourly grid up to the origin; ``first_step`` starts the first forecast
    hour. Times are hour starts here and hour ends in :mod:`analytics.aqi`.
    """
    past: dict[datetime, float] = {}
    for i in range(max(0, len(observed) - HOURS), len(observed)):
        value = observed.values[i]
        if np.isfinite(value):
            past[observed.time_of(i) + HOUR] = float(value)
    out = []
    for path in paths:
        means = dict(past)
        ends = [first_step + (k + 1) * HOUR for k in range(len(path))]
        means.update({end: float(v) for end, v in zip(ends, path, strict=True)})
        out.append([hourly_aqi({"pm25": means}, end).aqi for end in ends])
    return out
