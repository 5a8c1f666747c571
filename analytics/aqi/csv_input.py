"""Reading hourly means in long form: ``time,station,metric,value``.

Strict, like operator input elsewhere in the project: every bad row is reported with its line
number, and nothing is computed from a file with any, because a silently skipped row would
become a silently wrong AQI.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime
from pathlib import Path
from typing import Final, cast

from analytics.aqi.breakpoints import METRICS, Metric
from analytics.aqi.clock import to_local
from analytics.aqi.errors import AqiInputError

__all__ = ["COLUMNS", "StationMeans", "read_long_csv"]

COLUMNS: Final = ("time", "station", "metric", "value")
MAX_PROBLEMS: Final = 50  # enough to see the pattern, not a wall of text

# station -> metric -> hour-end stamp in Vietnam time -> µg/m³
StationMeans = dict[str, dict[Metric, dict[datetime, float]]]


def read_long_csv(path: Path) -> StationMeans:
    """Hourly means by station and metric; raises :class:`AqiInputError` listing bad lines."""
    data: StationMeans = {}
    problems: list[str] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != COLUMNS:
            raise AqiInputError(str(path), [f"line 1: header must be {','.join(COLUMNS)}"])
        for row in reader:
            if not row:
                continue
            try:
                station, metric, moment, value = _parse(row)
            except ValueError as exc:
                problems.append(f"line {reader.line_num}: {exc}")
            else:
                series = data.setdefault(station, {}).setdefault(metric, {})
                if moment in series:
                    problems.append(
                        f"line {reader.line_num}: duplicate {station} {metric} at "
                        f"{moment.isoformat()}"
                    )
                series[moment] = value
            if len(problems) >= MAX_PROBLEMS:
                break
    if problems:
        raise AqiInputError(str(path), problems)
    return data


def _parse(row: list[str]) -> tuple[str, Metric, datetime, float]:
    if len(row) != len(COLUMNS):
        raise ValueError(f"expected {len(COLUMNS)} fields, got {len(row)}")
    time_s, station, metric, value_s = (field.strip() for field in row)
    if not station:
        raise ValueError("empty station")
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r} is not one of {' '.join(METRICS)}")
    try:
        moment = datetime.fromisoformat(time_s)
    except ValueError:
        raise ValueError(f"time {time_s!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise ValueError(f"time {time_s!r} has no UTC offset (write e.g. +07:00)")
    moment = to_local(moment)
    if (moment.minute, moment.second, moment.microsecond) != (0, 0, 0):
        raise ValueError(f"time {time_s!r} is not on the hour (hourly means only)")
    try:
        value = float(value_s)
    except ValueError:
        raise ValueError(f"value {value_s!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"value {value_s!r} must be a finite concentration >= 0 µg/m³")
    return station, cast(Metric, metric), moment, value
