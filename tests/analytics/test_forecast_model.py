"""The forecaster on synthetic series whose answer is known: it must beat the obvious, its
calibrated p10-p90 band must cover near 80 %, and the same seed must give the same model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from analytics.cli import app
from analytics.forecast.backtest import BacktestConfig, backtest
from analytics.forecast.grid import Grid
from analytics.forecast.model import ModelConfig, fit_forecaster
from analytics.forecast.series import DeviceSeries
from analytics.forecast.targets import HOUR, TargetSpec

SPEC = TargetSpec("pm25", HOUR, 12 * HOUR, 24 * HOUR, transform="log1p")
FAST = ModelConfig(seed=3, max_iter=60, max_rows=8_000)
START = datetime(2026, 1, 5, tzinfo=UTC)


def seasonal_series(days: int, *, seed: int = 1, device: str = "aq-1") -> DeviceSeries:
    """A strong daily cycle (rush-hour peaks) on a slowly wandering level, with AR(1) noise."""
    rng = np.random.default_rng(seed)
    n = days * 24
    hours = np.arange(n)
    daily = 25 * np.sin(2 * np.pi * (hours % 24) / 24) + 12 * np.sin(4 * np.pi * hours / 24)
    level = 60 + 10 * np.sin(2 * np.pi * hours / (24 * 17))
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.7 * noise[i - 1] + rng.normal(0, 4)
    values = np.maximum(level + daily + noise, 1.0)
    start = int(START.timestamp())
    return DeviceSeries(device, Grid(start, HOUR, values))


def mae_by_method(result: dict, method: str) -> list[float]:
    return result[method]["mae"]


@pytest.fixture(scope="module")
def result() -> dict:
    series = [seasonal_series(75, seed=1), seasonal_series(75, seed=2, device="aq-2")]
    config = BacktestConfig(
        test_start=START + timedelta(days=55), refit_every=timedelta(days=10), model=FAST,
        origin_stride=2,
    )  # fmt: skip
    return backtest(series, SPEC, UTC, config)


def test_model_beats_persistence_and_seasonal_naive_on_a_seasonal_series(result: dict) -> None:
    model, persistence = result["model"]["mae"], result["persistence"]["mae"]
    snaive = result["seasonal_naive"]["mae"]
    # Beyond a few hours persistence misses the daily cycle, which the model has learnt.
    for h in range(3, 12):
        assert model[h] < 0.8 * persistence[h], (h, model[h], persistence[h])
    # The noise is persistent (AR 0.7): the model uses the recent anomaly, seasonal-naive can't.
    assert all(m < s for m, s in zip(model[:6], snaive[:6], strict=True))
    assert max(result["model"]["relative_mae"][:6]) < 0.9


def test_calibrated_band_covers_near_nominal(result: dict) -> None:
    coverage = result["model"]["coverage"]
    assert 0.72 <= float(np.mean(coverage)) <= 0.88, coverage
    assert all(0.6 <= c <= 0.95 for c in coverage), coverage


def test_scores_are_aligned_with_horizons(result: dict) -> None:
    assert result["horizons"] == [float(h) for h in range(1, 13)]
    for method in ("model", "persistence", "seasonal_naive"):
        for key in ("mae", "rmse", "mase", "coverage"):
            assert len(result[method][key]) == len(result["horizons"])
    assert result["seasonal_naive"]["relative_mae"] == [1.0] * 12
    assert len(result["refits"]) == 2


def test_same_seed_same_model_and_forecast() -> None:
    history = [seasonal_series(40)]
    a = fit_forecaster(history, SPEC, UTC, FAST)
    b = fit_forecaster(history, SPEC, UTC, FAST)
    c = fit_forecaster(history, SPEC, UTC, ModelConfig(seed=4, max_iter=60, max_rows=8_000))
    fa, fb, fc = a.forecast(history[0]), b.forecast(history[0]), c.forecast(history[0])
    assert a.version == b.version != c.version
    assert np.array_equal(fa.p50, fb.p50) and np.array_equal(fa.p90, fb.p90)
    assert not np.array_equal(fa.p50, fc.p50)
    assert a.importance == b.importance


def test_forecast_is_ordered_and_explained() -> None:
    history = [seasonal_series(40)]
    model = fit_forecaster(history, SPEC, UTC, FAST)
    fc = model.forecast(history[0])
    assert list(fc.horizons) == list(range(1, 13))
    assert np.all(fc.p10 <= fc.p50) and np.all(fc.p50 <= fc.p90)
    assert fc.issued_for == history[0].grid.time_of(len(history[0].grid))
    names = [name for name, _ in model.importance]
    assert sorted(names) == sorted(model.features)
    assert abs(sum(share for _, share in model.importance) - 1.0) < 0.01
    # The daily cycle is the signal: a calendar or seasonal feature must lead.
    top = names[:4]
    assert {"target_hour", "seasonal_naive", "seasonal_profile", "horizon"} & set(top), top


def test_backtest_command_prints_json_last(tmp_path: Path) -> None:
    series = seasonal_series(45)
    path = tmp_path / "history.csv"
    lines = ["time,device,metric,value"]
    for i, v in enumerate(series.grid.values):
        lines.append(f"{series.grid.time_of(i).astimezone().isoformat()},aq-1,pm25,{v:.2f}")
        lines.append(f"{series.grid.time_of(i).isoformat()},aq-1,pm10,{1.5 * v:.2f}")
    path.write_text("\n".join(lines) + "\n")
    run = CliRunner().invoke(app, [
        "backtest", "--input", str(path), "--target", "pm25", "--json", "--stride", "3",
        "--test-start", (START + timedelta(days=38)).isoformat(), "--refit-days", "10",
    ])  # fmt: skip
    assert run.exit_code == 0, run.output
    result = json.loads(run.output.strip().splitlines()[-1])
    assert len(result["horizons"]) == 48  # pm25's served horizon
    assert {"model", "persistence", "seasonal_naive"} <= result.keys()
    assert result["model"]["mase"][0] < result["seasonal_naive"]["mase"][0]


def test_backtest_command_names_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time,device,metric,value\n2026-01-01T00:00:00,aq-1,pm25,3\n")
    run = CliRunner().invoke(app, ["backtest", "--input", str(path), "--target", "pm25"])
    assert run.exit_code == 1
    assert "line 2" in run.output and "no UTC offset" in run.output
