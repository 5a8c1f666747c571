"""The NowCast that VN_AQI uses for PM10 and PM2.5 in the hourly AQI.

A plain 1-hour PM value swings too much to guide people, a 24-hour mean lags a fast change; the
NowCast weights the last 12 hours, more steeply the more the concentration is changing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

__all__ = ["HOURS", "nowcast"]

HOURS: Final = 12
_W_MIN: Final = 0.5


def nowcast(values: Sequence[float | None]) -> float | None:
    """NowCast of hourly means ``c1..c12`` (``c1`` the current hour, ``None`` for a missing one).

    ``None`` unless at least 2 of ``c1, c2, c3`` exist: the decision's data rule, so a single fresh
    reading never stands in for the recent trend. Missing hours add nothing to either sum.
    """
    window = list(values[:HOURS])
    if sum(v is not None for v in window[:3]) < 2:
        return None
    present = [(i, v) for i, v in enumerate(window) if v is not None]
    c_max = max(v for _, v in present)
    if c_max == 0:
        return 0.0
    w = max(min(v for _, v in present) / c_max, _W_MIN)
    num = sum(w**i * v for i, v in present)
    den = sum(w**i for i, _ in present)
    return num / den
