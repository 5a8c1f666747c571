"""A long-form file as forecastable series: the target per device, other metrics as inputs.

``traffic_volume`` may also be derived: when a file has no such metric but has a camera's
``count_*`` metrics (the traffic_camera profile), their sum per step is the volume.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np

from analytics.forecast.errors import ForecastInputError
from analytics.forecast.grid import Grid, to_grid
from analytics.forecast.series import DeviceSeries
from analytics.history.long_form import read_long_form

__all__ = ["infer_step", "load_series"]

Points = list[tuple[datetime, float]]


def load_series(
    path: Path, target: str, *, step_s: int | None = None, exog: tuple[str, ...] = ()
) -> tuple[list[DeviceSeries], int]:
    """The target's series per device on one grid step (the file's own, unless given)."""
    data: dict[str, dict[str, Points]] = defaultdict(lambda: defaultdict(list))
    for row in read_long_form(path):
        data[row.device][row.metric].append((row.time, row.value))
    summed = target == "traffic_volume" and not any(target in m for m in data.values())
    series_points: dict[str, Points] = {}
    for device, metrics in data.items():
        if summed:
            counts = [p for name, pts in metrics.items() if name.startswith("count_") for p in pts]
            if counts:
                series_points[device] = counts
        elif target in metrics:
            series_points[device] = metrics[target]
    if not series_points:
        raise ForecastInputError(f"{path}: no rows of metric {target!r}")
    step = step_s or infer_step([t for pts in series_points.values() for t, _ in pts[:5000]])
    out = []
    for device, pts in sorted(series_points.items()):
        grid = _summed_grid(pts, step) if summed else to_grid(pts, step)
        inputs = {}
        for name in exog:
            if name not in data[device]:
                raise ForecastInputError(f"{path}: device {device} has no {name!r} rows")
            inputs[name] = grid.aligned(to_grid(data[device][name], step))
        out.append(DeviceSeries(device, grid, inputs))
    return out, step


def infer_step(times: list[datetime]) -> int:
    """The most common spacing between consecutive distinct times, in seconds."""
    secs = np.unique(np.array([int(t.timestamp()) for t in times], dtype=np.int64))
    if len(secs) < 3:
        raise ForecastInputError("too few timestamps to tell the step; pass --step")
    diffs, counts = np.unique(np.diff(secs), return_counts=True)
    return int(diffs[np.argmax(counts)])


def _summed_grid(points: Points, step: int) -> Grid:
    """Counts per step: the sum of the per-interval counts, not their mean."""
    secs = np.array([int(t.timestamp()) for t, _ in points], dtype=np.int64)
    vals = np.array([v for _, v in points])
    slots = secs // step
    first = int(slots.min())
    idx = slots - first
    sums = np.bincount(idx, weights=vals)
    has = np.bincount(idx) > 0
    return Grid(first * step, step, np.where(has, sums, np.nan))
