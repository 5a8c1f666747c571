"""Readings on a regular time grid: the shape every model and baseline here works on.

A forecast step is a fixed number of seconds from the Unix epoch, so two series with the same
step line up by index arithmetic alone; a missing step is NaN, never interpolated, so neither
training nor scoring silently invents data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np
import numpy.typing as npt

__all__ = ["Grid", "local_clock", "to_grid"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Grid:
    """``values[i]`` is the mean of the readings in ``[t_i, t_i + step)``, stamped at ``t_i``
    (epoch seconds, ``t_i = start + i * step``)."""

    start: int
    step: int
    values: FloatArray

    def __len__(self) -> int:
        return len(self.values)

    @property
    def times(self) -> npt.NDArray[np.int64]:
        return self.start + self.step * np.arange(len(self.values), dtype=np.int64)

    def time_of(self, index: int) -> datetime:
        return datetime.fromtimestamp(self.start + self.step * index, UTC)

    def index_of(self, moment: datetime) -> int:
        return (int(moment.timestamp()) - self.start) // self.step

    def until(self, moment: datetime) -> Grid:
        """The part strictly before ``moment``: what was known at a forecast origin."""
        return Grid(self.start, self.step, self.values[: max(0, self.index_of(moment))])

    def aligned(self, other: Grid) -> FloatArray:
        """``other`` resampled onto this grid by index (same step); NaN where it has nothing."""
        if other.step != self.step:
            raise ValueError(f"steps differ: {self.step} s and {other.step} s")
        out = np.full(len(self), np.nan)
        offset = (other.start - self.start) // self.step
        lo, hi = max(0, offset), min(len(self), offset + len(other))
        if hi > lo:
            out[lo:hi] = other.values[lo - offset : hi - offset]
        return out


def to_grid(points: Iterable[tuple[datetime, float]], step: int) -> Grid:
    """Mean per step of timezone-aware readings (the step's start is a multiple of ``step``)."""
    pairs = [(int(t.timestamp()), v) for t, v in points if np.isfinite(v)]
    if not pairs:
        return Grid(0, step, np.zeros(0))
    secs = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
    vals = np.fromiter((p[1] for p in pairs), dtype=np.float64, count=len(pairs))
    slots = secs // step
    first = int(slots.min())
    idx = slots - first
    n = int(idx.max()) + 1
    sums = np.bincount(idx, weights=vals, minlength=n)
    counts = np.bincount(idx, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return Grid(first * step, step, means)


def local_clock(times: npt.NDArray[np.int64], tz: tzinfo) -> tuple[FloatArray, FloatArray]:
    """Hour of day (fractional) and day of week (Monday 0) in ``tz`` for epoch seconds.

    Offsets are looked up once per distinct hour, so a zone with daylight saving (I-94 is in
    Chicago) is right on both sides of a change without a per-point datetime conversion.
    """
    hours = times // 3600
    uniq, inverse = np.unique(hours, return_inverse=True)
    offsets = np.array(
        [
            _offset_s(datetime.fromtimestamp(int(h) * 3600, UTC).astimezone(tz).utcoffset())
            for h in uniq
        ],
        dtype=np.int64,
    )[inverse]
    local = times + offsets
    hour_of_day = (local % 86_400) / 3600.0
    day_of_week = ((local // 86_400 + 3) % 7).astype(np.float64)  # 1970-01-01 was a Thursday
    return hour_of_day, day_of_week


def _offset_s(delta: timedelta | None) -> int:
    return int(delta.total_seconds()) if delta else 0
