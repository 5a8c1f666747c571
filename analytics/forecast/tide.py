"""Harmonic tide: the astronomical part of a water level, fitted by least squares.

A gauge's tide is the sum of a few constituents with known periods; the amplitudes and phases
are local, so they are fitted on the training window. The model then only has to learn the
surge (what rain, wind and river flow add), which is the hard, persistent part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analytics.forecast.targets import TIDE_PERIODS_H

__all__ = ["TideModel", "fit_tide"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TideModel:
    coef: FloatArray  # mean, then cos and sin per constituent

    def at(self, times: npt.NDArray[np.int64]) -> FloatArray:
        return _design(times) @ self.coef


def fit_tide(times: npt.NDArray[np.int64], values: FloatArray) -> TideModel:
    ok = np.isfinite(values)
    if ok.sum() < 2 * len(TIDE_PERIODS_H) + 1:
        return TideModel(np.zeros(2 * len(TIDE_PERIODS_H) + 1))
    coef, *_ = np.linalg.lstsq(_design(times[ok]), values[ok], rcond=None)
    return TideModel(np.asarray(coef, dtype=np.float64))


def _design(times: npt.NDArray[np.int64]) -> FloatArray:
    hours = times.astype(np.float64) / 3600.0
    cols = [np.ones_like(hours)]
    for period in TIDE_PERIODS_H:
        angle = 2 * np.pi * hours / period
        cols += [np.cos(angle), np.sin(angle)]
    return np.column_stack(cols)
