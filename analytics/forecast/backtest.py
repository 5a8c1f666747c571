"""Rolling-origin backtest: refit on the past, forecast the future, score, step forward.

Every origin in the test period issues a full set of horizons from what was known before it;
the models are refitted every ``refit_every`` on the expanding (optionally capped) window
before the block they forecast. Model and baselines are scored on exactly the same pairs.

MASE follows Hyndman & Koehler (2006): MAE divided by the in-sample MAE of the one-season-back
forecast on the first training window, so below 1 beats what seasonal-naive did in training.
``relative_mae`` is the out-of-sample ratio to seasonal-naive's own MAE on the same pairs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

import numpy as np
import numpy.typing as npt

from analytics.forecast.baselines import Baseline, fit_baseline
from analytics.forecast.errors import ForecastInputError
from analytics.forecast.grid import Grid
from analytics.forecast.model import ModelConfig, QuantileForecaster, fit_forecaster
from analytics.forecast.series import DeviceSeries
from analytics.forecast.targets import TargetSpec

__all__ = ["BacktestConfig", "backtest"]

FloatArray = npt.NDArray[np.float64]
METHODS = ("model", "persistence", "seasonal_naive")


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    test_start: datetime | None = None  # default: the last ``test_fraction`` of the data
    test_fraction: float = 0.25
    refit_every: timedelta = timedelta(days=30)
    max_train: timedelta | None = None  # cap the expanding window (None: all the past)
    origin_stride: int = 1  # issue a forecast every this many steps
    model: ModelConfig = field(default_factory=ModelConfig)


@dataclass(slots=True)
class _Scores:
    abs_err: list[list[FloatArray]]
    sq_err: list[list[FloatArray]]
    covered: list[list[FloatArray]]

    @classmethod
    def empty(cls, n: int) -> _Scores:
        return cls([[] for _ in range(n)], [[] for _ in range(n)], [[] for _ in range(n)])


def backtest(
    history: list[DeviceSeries], spec: TargetSpec, tz: tzinfo, config: BacktestConfig
) -> dict[str, Any]:
    """Scores per horizon for the model and both baselines, as the CLI prints them."""
    began = time.monotonic()
    series = [s for s in history if len(s.grid)]
    if not series:
        raise ForecastInputError(f"no {spec.metric} values to backtest")
    first = min(s.grid.time_of(0) for s in series)
    last = max(s.grid.time_of(len(s.grid)) for s in series)
    test_start = config.test_start or last - (last - first) * config.test_fraction
    test_start = _floor(test_start, spec.step_s)
    if test_start <= first + timedelta(seconds=spec.season_s * 3):
        raise ForecastInputError(
            f"test period starts {test_start.isoformat()}, too close to the first value "
            f"{first.isoformat()}: at least three seasons of training are needed"
        )
    scores = {m: _Scores.empty(spec.horizons) for m in METHODS}
    scale: float | None = None
    refits: list[dict[str, Any]] = []
    model: QuantileForecaster | None = None
    block = test_start
    while block < last:
        block_end = min(block + config.refit_every, last)
        train = [_window(s, block, config.max_train) for s in series]
        train = [s for s in train if np.isfinite(s.grid.values).sum() > spec.season]
        if scale is None:
            scale = _seasonal_scale(train, spec)
        fit_began = time.monotonic()
        model = fit_forecaster(train, spec, tz, config.model)
        baselines = {k: fit_baseline(k, train, spec) for k in ("persistence", "seasonal_naive")}
        refits.append({
            "from": min(s.grid.time_of(0) for s in train).isoformat(),
            "to": block.isoformat(), "model_version": model.version,
            "fit_s": round(time.monotonic() - fit_began, 2),
        })  # fmt: skip
        for s in series:
            _score_block(s, spec, model, baselines, block, block_end, config, scores)
        block = block_end
    assert model is not None and scale is not None
    horizons_h = [round(h * spec.step_s / 3600, 4) for h in range(1, spec.horizons + 1)]
    result: dict[str, Any] = {
        "target": spec.metric, "step_s": spec.step_s, "season_steps": spec.season,
        "horizons": horizons_h, "horizon_unit": "hours",
        "test": {"from": test_start.isoformat(), "to": last.isoformat()},
        "devices": len(series), "seed": config.model.seed, "refits": refits,
        "features": model.features, "mase_scale": round(scale, 4),
    }  # fmt: skip
    snaive_mae = _mae(scores["seasonal_naive"])
    for method in METHODS:
        result[method] = _summary(scores[method], scale, snaive_mae)
    result["summary"] = _goal_summary(result, horizons_h)
    result["elapsed_s"] = round(time.monotonic() - began, 1)
    return result


def _score_block(
    s: DeviceSeries,
    spec: TargetSpec,
    model: QuantileForecaster,
    baselines: dict[str, Baseline],
    block: datetime,
    block_end: datetime,
    config: BacktestConfig,
    scores: dict[str, _Scores],
) -> None:
    # Origin t = the last step known when issuing at time_of(t + 1), which falls in the block.
    lo = max(s.grid.index_of(block) - 1, spec.season)
    hi = min(s.grid.index_of(block_end) - 1, len(s.grid) - 2)
    if hi < lo:
        return
    y = s.grid.values
    origins = np.arange(lo, hi, config.origin_stride, dtype=np.int64)
    origins = origins[np.isfinite(y[origins])]
    h = np.arange(1, spec.horizons + 1, dtype=np.int64)
    oo, hh = np.repeat(origins, len(h)), np.tile(h, len(origins))
    keep = oo + hh < len(y)
    oo, hh = oo[keep], hh[keep]
    actual = y[oo + hh]
    keep = np.isfinite(actual)
    oo, hh, actual = oo[keep], hh[keep], actual[keep]
    if len(oo) == 0:
        return
    predictors: dict[str, QuantileForecaster | Baseline] = {"model": model, **baselines}
    for method in METHODS:
        p10, p50, p90 = predictors[method].predict_rows(s, oo, hh)
        ok = np.isfinite(p50)  # seasonal-naive has nothing where the season-back is a gap
        err = actual - p50
        inside = ((actual >= p10) & (actual <= p90)).astype(np.float64)
        for i in range(spec.horizons):
            sel = ok & (hh == i + 1)
            scores[method].abs_err[i].append(np.abs(err[sel]))
            scores[method].sq_err[i].append(err[sel] ** 2)
            scores[method].covered[i].append(inside[sel])


def _window(s: DeviceSeries, end: datetime, max_train: timedelta | None) -> DeviceSeries:
    n = max(0, s.grid.index_of(end))
    head = s.head(min(n, len(s.grid)))
    if max_train is None:
        return head
    keep = int(max_train.total_seconds()) // s.grid.step
    if len(head.grid) <= keep:
        return head
    cut = len(head.grid) - keep
    grid = Grid(head.grid.start + cut * head.grid.step, head.grid.step, head.grid.values[cut:])
    return DeviceSeries(s.device_id, grid, {k: v[cut:] for k, v in head.exog.items()})


def _seasonal_scale(train: list[DeviceSeries], spec: TargetSpec) -> float:
    m = spec.season
    diffs = [np.abs(s.grid.values[m:] - s.grid.values[:-m]) for s in train]
    d = np.concatenate(diffs)
    d = d[np.isfinite(d)]
    if len(d) == 0 or float(d.mean()) == 0.0:
        raise ForecastInputError(f"{spec.metric}: no seasonal variation to scale MASE by")
    return float(d.mean())


def _cat(parts: list[FloatArray]) -> FloatArray:
    return np.concatenate(parts) if parts else np.zeros(0)


def _mae(scores: _Scores) -> list[float]:
    return [float(np.mean(_cat(p))) if len(_cat(p)) else float("nan") for p in scores.abs_err]


def _summary(scores: _Scores, scale: float, snaive_mae: list[float]) -> dict[str, list[Any]]:
    mae = _mae(scores)
    rmse = [float(np.sqrt(np.mean(_cat(p)))) if len(_cat(p)) else float("nan")
            for p in scores.sq_err]  # fmt: skip
    cov = [float(np.mean(_cat(p))) if len(_cat(p)) else float("nan") for p in scores.covered]
    return {
        "mae": [_r(v) for v in mae],
        "rmse": [_r(v) for v in rmse],
        "mase": [_r(v / scale) for v in mae],
        "relative_mae": [_r(a / b) if b else None for a, b in zip(mae, snaive_mae, strict=True)],
        "coverage": [_r(v) for v in cov],
        "n": [len(_cat(p)) for p in scores.abs_err],
    }


def _goal_summary(result: dict[str, Any], horizons_h: list[float]) -> dict[str, Any]:
    """The figures the goals are stated in: worst and mean MASE over the first day (or the
    whole horizon when shorter) and the overall coverage range."""
    upto = [i for i, h in enumerate(horizons_h) if h <= 24]
    out: dict[str, Any] = {"horizons_up_to_h": horizons_h[upto[-1]]}
    for method in METHODS:
        mase = [result[method]["mase"][i] for i in upto]
        rel = [result[method]["relative_mae"][i] for i in upto]
        cov = [c for c in result[method]["coverage"] if c is not None]
        out[method] = {
            "mase_max": max(mase), "mase_mean": _r(float(np.mean(mase))),
            "relative_mae_max": max(rel), "coverage_min": min(cov), "coverage_max": max(cov),
        }  # fmt: skip
    return out


def _r(v: float) -> float | None:
    return round(v, 4) if np.isfinite(v) else None


def _floor(moment: datetime, step: int) -> datetime:
    ts = int(moment.timestamp())
    return datetime.fromtimestamp(ts - ts % step, moment.tzinfo)
