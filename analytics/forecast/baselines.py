"""Persistence and seasonal-naive: the forecasts any model must beat.

Their intervals are empirical: the 10th and 90th percentiles of the baseline's own errors per
horizon over the training window, added to its point forecast (in the target's transformed
space, so a log-scaled target gets multiplicative bands). Their coverage in a backtest is then
a like-for-like comparison with the model's calibrated band.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from analytics.forecast.series import DeviceSeries, forward, inverse
from analytics.forecast.targets import TargetSpec

__all__ = ["Baseline", "BaselineKind", "baseline_point", "fit_baseline"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BaselineKind = Literal["persistence", "seasonal_naive"]


def baseline_point(
    kind: BaselineKind, z: FloatArray, spec: TargetSpec, origins: IntArray, horizons: IntArray
) -> FloatArray:
    """Point forecast in transformed space: the last known value, or the value one season
    (or as many seasons as the horizon needs) before the target time."""
    if kind == "persistence":
        idx = _last_known(z)[origins]
    else:
        m = spec.season
        idx = origins + horizons - m * ((horizons + m - 1) // m)
    out = np.full(len(origins), np.nan)
    ok = idx >= 0
    out[ok] = z[idx[ok]]
    return out


@dataclass(frozen=True, slots=True)
class Baseline:
    kind: BaselineKind
    spec: TargetSpec
    lo: FloatArray  # per horizon (index h-1): error percentiles in transformed space
    hi: FloatArray

    def predict_rows(
        self, series: DeviceSeries, origins: IntArray, horizons: IntArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        z = forward(self.spec, series.grid.values)
        mid = baseline_point(self.kind, z, self.spec, origins, horizons)
        i = horizons - 1
        return (
            inverse(self.spec, mid + self.lo[i]),
            inverse(self.spec, mid),
            inverse(self.spec, mid + self.hi[i]),
        )


def fit_baseline(kind: BaselineKind, history: list[DeviceSeries], spec: TargetSpec) -> Baseline:
    errors: list[list[FloatArray]] = [[] for _ in range(spec.horizons)]
    for s in history:
        z = forward(spec, s.grid.values)
        n = len(z)
        for h in range(1, spec.horizons + 1):
            origins = np.arange(spec.season, n - h, dtype=np.int64)
            if len(origins) == 0:
                continue
            hh = np.full_like(origins, h)
            err = z[origins + h] - baseline_point(kind, z, spec, origins, hh)
            errors[h - 1].append(err[np.isfinite(err)])
    lo = np.zeros(spec.horizons)
    hi = np.zeros(spec.horizons)
    for i, parts in enumerate(errors):
        e = np.concatenate(parts) if parts else np.zeros(0)
        if len(e):
            lo[i], hi[i] = np.quantile(e, [0.1, 0.9])
    return Baseline(kind, spec, lo, hi)


def _last_known(z: FloatArray) -> IntArray:
    """Index of the newest known value at or before each step (-1 before the first)."""
    ok = np.isfinite(z)
    idx = np.where(ok, np.arange(len(z)), -1)
    return np.maximum.accumulate(idx).astype(np.int64)
