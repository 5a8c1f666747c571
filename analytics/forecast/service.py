"""The serving loop's step: retrain when a model is old, issue forecasts, warn early.

Called by ``ioc analytics run`` every ``forecast_interval_s``. Models live in the process
(``ModelCache``) and are retrained every ``forecast_retrain_s`` from the rollups; each stored
forecast names its model version, whose row records training window, features, seed and
importance. Only complete steps are used (the origin is the last finished step), and a device
silent for more than three steps gets no forecast: a forecast from stale data would look
current on the wall.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from psycopg import Connection

from analytics.forecast.aqi_path import aqi_paths
from analytics.forecast.baselines import Baseline, fit_baseline
from analytics.forecast.errors import ForecastInputError
from analytics.forecast.model import ModelConfig, QuantileForecaster, fit_forecaster
from analytics.forecast.series import DeviceSeries
from analytics.forecast.source import SERVED, Served, load_history
from analytics.forecast.store import (
    ForecastRow,
    drop_old_forecasts,
    save_model,
    write_forecasts,
)
from analytics.forecast.warnings import EarlyWarning, aqi_warnings, raise_warnings
from ioc_core.settings import Settings

__all__ = ["ForecastRunReport", "ModelCache", "run_forecasts"]

log = logging.getLogger(__name__)
STALE_STEPS = 3


@dataclass(slots=True)
class _Trained:
    model: QuantileForecaster
    baselines: dict[str, Baseline]
    trained_at: datetime


@dataclass(slots=True)
class ModelCache:
    models: dict[str, _Trained] = field(default_factory=dict)


@dataclass(slots=True)
class ForecastRunReport:
    trained: list[str] = field(default_factory=list)
    issued: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"trained": self.trained, "issued": self.issued, "skipped": self.skipped,
                "warnings": self.warnings}  # fmt: skip


def run_forecasts(
    conn: Connection, settings: Settings, cache: ModelCache, *, now: datetime | None = None
) -> ForecastRunReport:
    now = now or datetime.now(UTC)
    report = ForecastRunReport()
    warnings: list[EarlyWarning] = []
    for served in SERVED:
        try:
            warnings += _run_target(conn, settings, cache, served, now, report)
        except (ForecastInputError, ValueError, ArithmeticError) as exc:
            # One target's bad data must not stop the others (nor the analytics loop).
            log.exception("forecast %s failed", served.spec.metric)
            report.skipped[served.spec.metric] = f"failed: {exc}"
    report.warnings = raise_warnings(conn, warnings)
    drop_old_forecasts(conn, older_than=now - timedelta(days=settings.forecast_keep_days))
    return report


def _run_target(
    conn: Connection,
    settings: Settings,
    cache: ModelCache,
    served: Served,
    now: datetime,
    report: ForecastRunReport,
) -> list[EarlyWarning]:
    tz = ZoneInfo(settings.forecast_tz)
    warnings: list[EarlyWarning] = []
    metric = served.spec.metric
    until = _floor(now, served.spec.step_s)
    since = until - timedelta(days=settings.forecast_history_days)
    history = load_history(conn, served, since=since, until=until, tz=tz)
    if not history:
        report.skipped[metric] = "no history"
        return warnings
    trained = cache.models.get(metric)
    if trained is None or now - trained.trained_at >= timedelta(
        seconds=settings.forecast_retrain_s
    ):
        try:
            trained = _train(conn, served, history, settings, now)
        except ForecastInputError as exc:
            report.skipped[metric] = str(exc)
            return warnings
        cache.models[metric] = trained
        report.trained.append(trained.model.version)
    rows: list[ForecastRow] = []
    for s in history:
        if not _fresh(s, until):
            continue
        issued = _issue(s, trained, until)
        rows += issued
        if metric == "pm25":
            aqi_rows = _aqi_rows(s, issued, trained.model.version)
            rows += aqi_rows
            warnings += aqi_warnings(
                s.device_id, aqi_rows, threshold=settings.forecast_aqi_warning,
                within=timedelta(hours=settings.forecast_warning_hours),
            )  # fmt: skip
    report.issued[metric] = write_forecasts(conn, rows)
    return warnings


def _train(
    conn: Connection,
    served: Served,
    history: list[DeviceSeries],
    settings: Settings,
    now: datetime,
) -> _Trained:
    config = ModelConfig(seed=settings.forecast_seed, max_rows=settings.forecast_max_rows)
    model = fit_forecaster(history, served.spec, ZoneInfo(settings.forecast_tz), config)
    baselines = {k: fit_baseline(k, history, served.spec) for k in ("persistence",
                                                                     "seasonal_naive")}  # fmt: skip
    with conn.transaction():
        save_model(conn, model, devices=len(history))
    log.info("forecast model %s trained on %d devices, %s .. %s", model.version, len(history),
             model.train_from.isoformat(), model.train_to.isoformat())  # fmt: skip
    return _Trained(model, baselines, now)


def _fresh(s: DeviceSeries, until: datetime) -> bool:
    known = np.flatnonzero(np.isfinite(s.grid.values))
    if len(known) == 0:
        return False
    last = s.grid.time_of(int(known[-1]))
    return until - last <= timedelta(seconds=STALE_STEPS * s.grid.step)


def _extend(s: DeviceSeries, until: datetime) -> DeviceSeries:
    """The series padded with gaps up to the last complete step before ``until``."""
    n = s.grid.index_of(until)
    if n <= len(s.grid):
        return s.head(n)
    pad = n - len(s.grid)
    values = np.concatenate([s.grid.values, np.full(pad, np.nan)])
    exog = {k: np.concatenate([v, np.full(pad, np.nan)]) for k, v in s.exog.items()}
    return DeviceSeries(s.device_id, type(s.grid)(s.grid.start, s.grid.step, values), exog)


def _issue(s: DeviceSeries, trained: _Trained, until: datetime) -> list[ForecastRow]:
    s = _extend(s, until)
    spec = trained.model.spec
    fc = trained.model.forecast(s)
    origins = np.full_like(fc.horizons, len(s.grid) - 1)
    base = {k: b.predict_rows(s, origins, fc.horizons)[1] for k, b in trained.baselines.items()}
    rows: list[ForecastRow] = []
    for i, h in enumerate(fc.horizons):
        target = fc.issued_for + timedelta(seconds=int(h - 1) * spec.step_s)
        rows.append((
            fc.issued_for, s.device_id, spec.metric, target, float(h) * spec.step_s / 3600,
            float(fc.p10[i]), float(fc.p50[i]), float(fc.p90[i]),
            _opt(base["persistence"][i]), _opt(base["seasonal_naive"][i]),
            trained.model.version,
        ))  # fmt: skip
    return rows


def _aqi_rows(s: DeviceSeries, pm25: list[ForecastRow], version: str) -> list[ForecastRow]:
    if not pm25:
        return []
    first = pm25[0][3]
    observed = s.grid.until(first)
    paths = [np.array([r[k] for r in pm25]) for k in (5, 6, 7)]
    lo, mid, hi = aqi_paths(observed, first, paths)
    rows: list[ForecastRow] = []
    for r, a, b, c in zip(pm25, lo, mid, hi, strict=True):
        if a is None or b is None or c is None:
            continue
        rows.append((r[0], r[1], "aqi", r[3], r[4], float(a), float(b), float(c), None, None,
                     version))  # fmt: skip
    return rows


def _opt(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _floor(moment: datetime, step: int) -> datetime:
    ts = int(moment.timestamp())
    return datetime.fromtimestamp(ts - ts % step, UTC)
