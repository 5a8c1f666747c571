"""Features of one (origin, horizon) pair: what was known at the origin, and the calendar and
tide of the target time (known in advance).

Everything is expressed relative to the level at the origin (``base``), in the target's
transformed space, and the model predicts the change from it: trees cannot extrapolate, so a
level never seen in training (a record smog episode) still gets sensible changes.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo

import numpy as np
import numpy.typing as npt

from analytics.forecast.grid import local_clock
from analytics.forecast.targets import DAY, TargetSpec
from analytics.forecast.tide import TideModel

__all__ = ["FeatureRows", "feature_names", "make_features"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LAGS = (1, 2, 3, 6, 12, 24)  # steps back from the origin
ROLLING = (3, 24)  # plus the season, for means
SEASONS_BACK = 4  # same-phase values averaged for the seasonal profile


@dataclass(frozen=True, slots=True)
class FeatureRows:
    x: FloatArray  # rows x features
    base: FloatArray  # the origin level each row's prediction is added to


def feature_names(spec: TargetSpec, exog: tuple[str, ...]) -> list[str]:
    names = ["horizon", "level"]
    names += [f"lag_{k}" for k in LAGS]
    names += [f"mean_{w}" for w in _windows(spec)] + ["std_24"]
    names += ["seasonal_naive", "seasonal_profile"]
    if _daily_lag(spec):
        names.append("same_time_yesterday")
    names += ["target_hour", "target_weekday", "origin_hour"]
    for name in exog:
        names += [f"{name}_now", f"{name}_mean_24"]
    if spec.tide:
        names += ["tide_change", "tide_at_target", "surge_now"]
    return names


def make_features(
    z: FloatArray,
    start: int,
    spec: TargetSpec,
    tz: tzinfo,
    origins: IntArray,
    horizons: IntArray,
    *,
    exog: Mapping[str, FloatArray] | None = None,
    tide: TideModel | None = None,
) -> FeatureRows:
    """Rows for the pairs ``(origins[i], horizons[i])``; ``z`` is the transformed series with
    NaN gaps, ``origins`` index its last known step. Only ``z[: origin + 1]`` is read."""
    zf = _ffill(z)
    m = spec.season
    step = spec.step_s
    t, h = origins, horizons
    base = zf[t]
    cols: list[FloatArray] = [h.astype(np.float64), base]
    cols += [_at(zf, t - k) - base for k in LAGS]
    csum, ccount = _cumulative(z)
    for w in _windows(spec):
        cols.append(_rolling_mean(csum, ccount, t, w) - base)
    cols.append(_rolling_std(z, t, 24))
    back = m * ((h + m - 1) // m)  # smallest multiple of the season >= horizon
    cols.append(_at(z, t + h - back) - base)
    profile = np.column_stack([_at(z, t + h - back - j * m) for j in range(SEASONS_BACK)])
    with warnings.catch_warnings():  # an all-NaN profile is a legitimate NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        cols.append(np.nanmean(profile, axis=1) - base)
    day = _daily_lag(spec)
    if day:
        back_d = day * ((h + day - 1) // day)
        cols.append(_at(z, t + h - back_d) - base)
    target_times = start + step * (t + h)
    origin_times = start + step * t
    hour_t, dow_t = local_clock(target_times, tz)
    hour_o, _ = local_clock(origin_times, tz)
    cols += [hour_t, dow_t, hour_o]
    for series in (exog or {}).values():
        sf = _ffill(series)
        s_sum, s_count = _cumulative(series)
        cols += [_at(sf, t), _rolling_mean(s_sum, s_count, t, 24)]
    if spec.tide:
        model = tide or TideModel(np.zeros(11))
        at_target = model.at(target_times)
        at_origin = model.at(origin_times)
        cols += [at_target - at_origin, at_target, base - at_origin]
    return FeatureRows(np.column_stack(cols), base)


def _windows(spec: TargetSpec) -> tuple[int, ...]:
    return tuple(sorted({*ROLLING, spec.season}))


def _daily_lag(spec: TargetSpec) -> int:
    """Steps in a day, when a day is a shorter cycle than the season (sub-daily traffic)."""
    day = DAY // spec.step_s
    return day if spec.step_s < DAY and day < spec.season else 0


def _at(a: FloatArray, idx: IntArray) -> FloatArray:
    ok = (idx >= 0) & (idx < len(a))
    out = np.full(len(idx), np.nan)
    out[ok] = a[idx[ok]]
    return out


def _ffill(a: FloatArray) -> FloatArray:
    ok = np.isfinite(a)
    idx = np.where(ok, np.arange(len(a)), 0)
    np.maximum.accumulate(idx, out=idx)
    out = a[idx]
    out[~ok & (np.cumsum(ok) == 0)] = np.nan
    return out


def _cumulative(a: FloatArray) -> tuple[FloatArray, FloatArray]:
    ok = np.isfinite(a)
    csum = np.concatenate([[0.0], np.cumsum(np.where(ok, a, 0.0))])
    ccount = np.concatenate([[0.0], np.cumsum(ok.astype(np.float64))])
    return csum, ccount


def _rolling_mean(csum: FloatArray, ccount: FloatArray, t: IntArray, w: int) -> FloatArray:
    hi = np.clip(t + 1, 0, len(csum) - 1)
    lo = np.clip(t + 1 - w, 0, len(csum) - 1)
    n = ccount[hi] - ccount[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (csum[hi] - csum[lo]) / np.maximum(n, 1), np.nan)


def _rolling_std(z: FloatArray, t: IntArray, w: int) -> FloatArray:
    sq_sum, count = _cumulative(z * z)
    s_sum, _ = _cumulative(z)
    mean = _rolling_mean(s_sum, count, t, w)
    mean_sq = _rolling_mean(sq_sum, count, t, w)
    return np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
