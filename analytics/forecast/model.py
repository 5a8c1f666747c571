"""Quantile gradient boosting with conformal intervals: the forecaster.

Three ``HistGradientBoostingRegressor`` models with the pinball loss give p10, p50 and p90 for
every horizon at once (the horizon is a feature: one model per quantile, not per horizon,
keeps training to seconds on two busy vCPUs). Quantile models are usually overconfident out of
sample, so the p10-p90 band is widened (or narrowed) per horizon by conformalized quantile
regression (Romano et al. 2019) on the most recent part of the training window, which the
models did not see; that is what brings coverage near the nominal 80 %.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.inspection import permutation_importance
from threadpoolctl import threadpool_limits

from analytics.forecast.errors import ForecastInputError
from analytics.forecast.features import feature_names, make_features
from analytics.forecast.series import DeviceSeries, forward, inverse
from analytics.forecast.targets import TargetSpec
from analytics.forecast.tide import TideModel, fit_tide

__all__ = ["MODEL_FAMILY", "Forecast", "ModelConfig", "QuantileForecaster", "fit_forecaster"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MODEL_FAMILY = "hgb-quantile-cqr/3"  # bump when features or training change meaning
QUANTILES = (0.1, 0.5, 0.9)
# The linear anchor: per horizon, a ridge regression of the change on these (relative)
# features. Trees approximate a straight line only in steps, and "tomorrow looks like the
# seasonal profile" is a straight line over a range of levels that spans orders of magnitude;
# the trees then learn what the line misses (rush hours, episodes, the calendar).
LINEAR = ("lag_1", "mean_24", "seasonal_naive", "seasonal_profile")
RIDGE = 1.0
# The p50 blend chosen per horizon on the held-out part: the share of the trees' median change
# kept (the rest goes to persistence), and the share of the move toward the seasonal profile
# (mean of the last seasons at the target's phase) added on top.
TREE_WEIGHTS = np.linspace(0.0, 1.0, 11)
PROFILE_WEIGHTS = np.linspace(0.0, 0.5, 6)
# Volatility scaling of the conformal band: recent mean |seasonal difference| over this many
# steps, relative to its median over the training pairs, clipped to this range.
VOLATILITY_WINDOW = 24
VOLATILITY_CLIP = (0.5, 3.0)


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Tuning constants. Small trees and a modest learning rate: the series are noisy and the
    signal is mostly level, season and recent change, so depth buys overfitting, not skill."""

    seed: int = 0
    max_iter: int = 150
    learning_rate: float = 0.06
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 50
    l2_regularization: float = 1.0
    max_rows: int = 60_000  # sampled (origin, horizon) pairs per fit: seconds, not minutes
    calibration_fraction: float = 0.2  # the newest part of the window, held out for CQR
    coverage: float = 0.8  # p10-p90
    warmup_seasons: int = 1  # origins need this much history before them
    importance_rows: int = 2_000
    # OpenMP threads per fit/predict. One: on a shared two-vCPU host, OpenMP's spinning
    # workers under oversubscription made a fit 15x slower than a single thread (measured).
    threads: int = 1
    # Fit the per-horizon linear anchor (LINEAR) before the trees. Off by default: on the
    # I-94 backtest it did not beat trees on the plain change (docs/forecasts.md).
    linear_anchor: bool = False
    # Normalise the conformal scores by the recent volatility at the origin (locally weighted
    # conformal prediction), so the band widens in stormy periods the calibration slice lacked.
    volatility_scaled: bool = True


@dataclass(frozen=True, slots=True)
class Forecast:
    """Forecast of one device from one origin; arrays aligned with ``horizons`` (in steps)."""

    device_id: str
    issued_for: datetime  # start of the first forecast step
    horizons: IntArray
    p10: FloatArray
    p50: FloatArray
    p90: FloatArray


@dataclass(slots=True)
class QuantileForecaster:
    spec: TargetSpec
    tz: tzinfo
    config: ModelConfig
    exog_names: tuple[str, ...]
    models: list[HistGradientBoostingRegressor]
    widen: FloatArray  # CQR correction per horizon (index h-1), transformed space
    shrink: FloatArray  # per horizon: weight of the trees' median change (1 - toward persistence)
    toward_profile: FloatArray  # per horizon: share of the move to the seasonal profile added
    volatility_ref: float  # median recent volatility over the training pairs (0: not scaled)
    linear: FloatArray  # per horizon (index h-1): intercept, then one weight per LINEAR
    tide: dict[str, TideModel]
    train_from: datetime
    train_to: datetime
    importance: list[tuple[str, float]] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        return feature_names(self.spec, self.exog_names)

    @property
    def version(self) -> str:
        """Same data window, settings and seed give the same version (and the same model)."""
        digest = hashlib.sha256(
            repr(
                (MODEL_FAMILY, self.spec, self.config, self.exog_names,
                 self.train_from.isoformat(), self.train_to.isoformat())
            ).encode()
        ).hexdigest()[:10]  # fmt: skip
        return f"{self.spec.metric}-{MODEL_FAMILY.split('/')[0]}-{digest}"

    def predict_rows(
        self, series: DeviceSeries, origins: IntArray, horizons: IntArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """p10, p50, p90 (original units) for each ``(origin, horizon)`` pair of one series."""
        with threadpool_limits(limits=self.config.threads, user_api="openmp"):
            return self._predict_rows(series, origins, horizons)

    def _predict_rows(
        self, series: DeviceSeries, origins: IntArray, horizons: IntArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        z = forward(self.spec, series.grid.values)
        rows = make_features(
            z, series.grid.start, self.spec, self.tz, origins, horizons,
            exog=series.exog, tide=self.tide.get(series.device_id),
        )  # fmt: skip
        anchor = rows.base + _linear(self.linear, rows.x, horizons, self.features)
        i = np.clip(horizons - 1, 0, len(self.widen) - 1)
        q = np.column_stack([m.predict(rows.x) for m in self.models])
        profile = _profile(rows.x, self.features)
        q = _shrunk(q, self.shrink[i], self.toward_profile[i], profile)
        q += anchor[:, None]
        scale = _band_scale(z, origins, self.spec, self.volatility_ref)
        lo, mid, hi = _scaled_band(q, scale, self.widen[i])
        return inverse(self.spec, lo), inverse(self.spec, mid), inverse(self.spec, hi)

    def forecast(self, series: DeviceSeries) -> Forecast:
        """All horizons from the end of ``series`` (its last step is the origin)."""
        values = series.grid.values
        known = np.flatnonzero(np.isfinite(values))
        if len(known) == 0:
            raise ForecastInputError(f"{series.device_id}: no {self.spec.metric} values")
        origin = len(values) - 1
        horizons = np.arange(1, self.spec.horizons + 1, dtype=np.int64)
        p10, p50, p90 = self.predict_rows(series, np.full_like(horizons, origin), horizons)
        return Forecast(series.device_id, series.grid.time_of(origin + 1), horizons, p10, p50, p90)


def fit_forecaster(
    history: list[DeviceSeries], spec: TargetSpec, tz: tzinfo, config: ModelConfig | None = None
) -> QuantileForecaster:
    """Train on every series' history (pooled: one model per quantile for all devices).

    Deterministic for a given history, spec and ``config.seed``.
    """
    config = config or ModelConfig()
    with threadpool_limits(limits=config.threads, user_api="openmp"):
        return _fit(history, spec, tz, config)


def _fit(
    history: list[DeviceSeries], spec: TargetSpec, tz: tzinfo, config: ModelConfig
) -> QuantileForecaster:
    rng = np.random.default_rng(config.seed)
    exog_names = tuple(sorted(history[0].exog)) if history else ()
    tides = {s.device_id: fit_tide(s.grid.times, s.grid.values) for s in history if spec.tide}
    train_x, train_y, cal, train_vol = [], [], [], []
    for s in history:
        if set(s.exog) != set(exog_names):
            raise ForecastInputError(f"{s.device_id}: exogenous inputs differ between devices")
        z = forward(spec, s.grid.values)
        n = len(z)
        cutoff = int(n * (1 - config.calibration_fraction))
        origins, horizons = _pairs(z, spec, start=spec.season * config.warmup_seasons, stop=n)
        if len(origins) == 0:
            continue
        exog = {k: s.exog[k] for k in exog_names}
        rows = make_features(
            z, s.grid.start, spec, tz, origins, horizons, exog=exog, tide=tides.get(s.device_id)
        )
        target = z[origins + horizons] - rows.base  # the change; the anchor is taken off below
        fit_part = origins + horizons < cutoff
        train_x.append(rows.x[fit_part])
        train_y.append(target[fit_part])
        vol = _volatility(z, origins, spec.season)
        train_vol.append(vol[fit_part])
        held = origins >= cutoff
        cal.append((rows.x[held], target[held], horizons[held], vol[held]))
    x = np.concatenate(train_x) if train_x else np.zeros((0, 0))
    if len(x) < 200:
        raise ForecastInputError(
            f"{spec.metric}: too little history to train ({len(x)} usable pairs; need a few "
            f"seasons of {spec.season} steps)"
        )
    y = np.concatenate(train_y)
    if len(x) > config.max_rows:
        keep = rng.choice(len(x), config.max_rows, replace=False)
        x, y = x[keep], y[keep]
    names = feature_names(spec, exog_names)
    train_h = x[:, names.index("horizon")].astype(np.int64)
    linear = (
        _fit_linear(x, y, train_h, names, spec.horizons)
        if config.linear_anchor
        else np.zeros((spec.horizons, len(LINEAR) + 1))
    )
    y = y - _linear(linear, x, train_h, names)
    models = [_fit_quantile(x, y, q, config) for q in QUANTILES]
    cal_x = np.concatenate([c[0] for c in cal])
    cal_h = np.concatenate([c[2] for c in cal])
    cal_y = np.concatenate([c[1] for c in cal]) - _linear(linear, cal_x, cal_h, names)
    cal_q = np.column_stack([m.predict(cal_x) for m in models]) if len(cal_x) else np.zeros((0, 3))
    cal_profile = _profile(cal_x, names) if len(cal_x) else np.zeros(0)
    shrink, toward = _fit_shrink(cal_q, cal_y, cal_h, cal_profile, spec.horizons)
    i = np.clip(cal_h - 1, 0, spec.horizons - 1)
    cal_q = _shrunk(cal_q, shrink[i], toward[i], cal_profile)
    all_vol = np.concatenate(train_vol)
    all_vol = all_vol[np.isfinite(all_vol) & (all_vol > 0)]
    vol_ref = float(np.median(all_vol)) if config.volatility_scaled and len(all_vol) else 0.0
    cal_scale = _scale(np.concatenate([c[3] for c in cal]), vol_ref)
    cal_q = np.column_stack(_scaled_band(cal_q, cal_scale, np.zeros(len(cal_q))))
    widen = _conformal_widen(cal_q, cal_y, cal_h, cal_scale, spec.horizons, config.coverage)
    starts = [s.grid.time_of(0) for s in history if len(s.grid)]
    ends = [s.grid.time_of(len(s.grid)) for s in history if len(s.grid)]
    model = QuantileForecaster(
        spec,
        tz,
        config,
        exog_names,
        models,
        widen,
        shrink,
        toward,
        vol_ref,
        linear,
        tides,
        min(starts),
        max(ends),
    )
    model.importance = _importance(models[1], cal_x, cal_y, model.features, config, rng)
    return model


def _linear_design(x: FloatArray, names: list[str]) -> FloatArray:
    cols = x[:, [names.index(n) for n in LINEAR]]
    return np.column_stack([np.ones(len(x)), np.nan_to_num(cols, nan=0.0)])


def _fit_linear(
    x: FloatArray, y: FloatArray, horizons: IntArray, names: list[str], n_horizons: int
) -> FloatArray:
    design = _linear_design(x, names)
    coef = np.zeros((n_horizons, design.shape[1]))
    penalty = RIDGE * np.eye(design.shape[1])
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    for h in range(1, n_horizons + 1):
        sel = horizons == h
        if sel.sum() < design.shape[1] * 5:
            continue
        a, b = design[sel], y[sel]
        coef[h - 1] = np.linalg.solve(a.T @ a + penalty, a.T @ b)
    return coef


def _linear(coef: FloatArray, x: FloatArray, horizons: IntArray, names: list[str]) -> FloatArray:
    rows = coef[np.clip(horizons - 1, 0, len(coef) - 1)]
    return np.einsum("ij,ij->i", _linear_design(x, names), rows)


def _pairs(z: FloatArray, spec: TargetSpec, *, start: int, stop: int) -> tuple[IntArray, IntArray]:
    """Every (origin, horizon) with a known origin level and a known target inside [0, stop)."""
    origins = np.arange(start, stop, dtype=np.int64)
    origins = origins[np.isfinite(z[origins])]
    h = np.arange(1, spec.horizons + 1, dtype=np.int64)
    oo = np.repeat(origins, len(h))
    hh = np.tile(h, len(origins))
    ok = oo + hh < stop
    oo, hh = oo[ok], hh[ok]
    ok = np.isfinite(z[oo + hh])
    return oo[ok], hh[ok]


def _fit_quantile(
    x: FloatArray, y: FloatArray, quantile: float, config: ModelConfig
) -> HistGradientBoostingRegressor:
    model = HistGradientBoostingRegressor(
        loss="quantile",
        quantile=quantile,
        max_iter=config.max_iter,
        learning_rate=config.learning_rate,
        max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=config.min_samples_leaf,
        l2_regularization=config.l2_regularization,
        early_stopping=False,  # its validation split is random: neither honest nor needed
        random_state=config.seed,
    )
    return model.fit(x, y)


def _near(horizons: IntArray, h: int) -> npt.NDArray[np.bool_]:
    """Calibration pairs of horizon ``h`` and its neighbours (a window growing with h), so a
    horizon with few pairs does not get a noisy correction."""
    return np.abs(horizons - h) <= max(1, h // 8)


def _profile(x: FloatArray, names: list[str]) -> FloatArray:
    """The seasonal profile's change from the level (0 where unknown: no move)."""
    return np.nan_to_num(x[:, names.index("seasonal_profile")], nan=0.0)


def _shrunk(
    q: FloatArray, weight: FloatArray, toward: FloatArray, profile: FloatArray
) -> FloatArray:
    """Quantiles of the change, sorted (no crossing) and moved by the blended median's shift."""
    q = np.sort(q, axis=1)
    return q + ((weight - 1.0) * q[:, 1] + toward * profile)[:, None]


def _fit_shrink(
    q: FloatArray, y: FloatArray, horizons: IntArray, profile: FloatArray, n_horizons: int
) -> tuple[FloatArray, FloatArray]:
    """Per horizon, how much of the trees' median change to keep (0..1) and how far to move
    toward the seasonal profile (0..0.5), chosen on the held-out part by MAE. One step ahead the
    last value is hard to beat; a day ahead the recent days' profile carries what the pooled
    trees smooth away. Where the trees alone are best the weights stay (1, 0)."""
    shrink, toward = np.ones(n_horizons), np.zeros(n_horizons)
    if len(q) == 0:
        return shrink, toward
    mid = np.sort(q, axis=1)[:, 1]
    for h in range(1, n_horizons + 1):
        near = _near(horizons, h)
        if near.sum() < 50:
            continue
        yy, mm, pp = y[near], mid[near], profile[near]
        mae = np.array([[np.mean(np.abs(yy - w * mm - u * pp)) for u in PROFILE_WEIGHTS]
                        for w in TREE_WEIGHTS])  # fmt: skip
        a, b = np.unravel_index(int(np.argmin(mae)), mae.shape)
        shrink[h - 1], toward[h - 1] = TREE_WEIGHTS[a], PROFILE_WEIGHTS[b]
    return shrink, toward


def _volatility(z: FloatArray, origins: IntArray, season: int) -> FloatArray:
    """Mean |z[k] - z[k - season]| over the last VOLATILITY_WINDOW steps up to each origin:
    how unsettled the series is beyond its usual cycle (for a tide gauge, the surge; for PM2.5,
    day-to-day change). NaN where nothing is known."""
    d = np.full(len(z), np.nan)
    if len(z) > season:
        d[season:] = np.abs(z[season:] - z[:-season])
    ok = np.isfinite(d)
    csum = np.concatenate([[0.0], np.cumsum(np.where(ok, d, 0.0))])
    count = np.concatenate([[0.0], np.cumsum(ok.astype(np.float64))])
    hi = np.clip(origins + 1, 0, len(z))
    lo = np.clip(origins + 1 - VOLATILITY_WINDOW, 0, len(z))
    n = count[hi] - count[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (csum[hi] - csum[lo]) / np.maximum(n, 1), np.nan)


def _scale(vol: FloatArray, ref: float) -> FloatArray:
    """Band scale per pair: recent volatility over the training median, clipped; 1 when
    scaling is off or the volatility is unknown."""
    if ref <= 0:
        return np.ones(len(vol))
    return np.clip(np.nan_to_num(vol / ref, nan=1.0), *VOLATILITY_CLIP)


def _scaled_band(
    q: FloatArray, scale: FloatArray, widen: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """p10, p50, p90 of the change with the band around the median stretched by ``scale`` and
    the conformal correction (in scaled units) applied, never crossing the median."""
    mid = q[:, 1]
    lo = mid + scale * (q[:, 0] - mid - widen)
    hi = mid + scale * (q[:, 2] - mid + widen)
    return np.minimum(lo, mid), mid, np.maximum(hi, mid)


def _band_scale(z: FloatArray, origins: IntArray, spec: TargetSpec, ref: float) -> FloatArray:
    return _scale(_volatility(z, origins, spec.season), ref)


def _conformal_widen(
    q: FloatArray,
    y: FloatArray,
    horizons: IntArray,
    scale: FloatArray,
    n_horizons: int,
    coverage: float,
) -> FloatArray:
    """CQR: per horizon, the finite-sample (coverage) quantile of max(lo - y, y - hi) over the
    held-out pairs (``q``: their p10, p50, p90 of the change), each divided by its pair's
    volatility ``scale`` (the correction is multiplied back by the scale when predicting); a
    negative value narrows a band that was too wide."""
    widen = np.zeros(n_horizons)
    if len(q) == 0:
        return widen
    score = np.maximum(q[:, 0] - y, y - q[:, 2]) / scale
    for h in range(1, n_horizons + 1):
        s = score[_near(horizons, h)]
        if len(s) == 0:
            continue
        level = min(1.0, np.ceil((len(s) + 1) * coverage) / len(s))
        widen[h - 1] = float(np.quantile(s, level))
    return widen


def _importance(
    model: HistGradientBoostingRegressor,
    x: FloatArray,
    y: FloatArray,
    names: list[str],
    config: ModelConfig,
    rng: np.random.Generator,
) -> list[tuple[str, float]]:
    """Permutation importance of the median model on held-out pairs, as shares of the total
    (how much worse the p50 gets, in MAE, when a feature's values are shuffled)."""
    if len(x) < 50:
        return []
    if len(x) > config.importance_rows:
        keep = rng.choice(len(x), config.importance_rows, replace=False)
        x, y = x[keep], y[keep]
    result = permutation_importance(
        model, x, y, scoring="neg_mean_absolute_error", n_repeats=3,
        random_state=config.seed,
    )  # fmt: skip
    gain = np.maximum(np.asarray(result["importances_mean"]), 0.0)
    total = float(gain.sum()) or 1.0
    ranked = sorted(zip(names, gain / total, strict=True), key=lambda p: -p[1])
    return [(name, round(float(share), 4)) for name, share in ranked]
