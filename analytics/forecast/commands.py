"""``ioc analytics backtest`` and ``ioc analytics forecast``: the forecasting commands.

Registered on the ``ioc analytics`` app by :mod:`analytics.cli`; kept here so the forecast
package owns its command-line surface. The model, backtest and service modules are imported
inside the commands, not here: they import scikit-learn (about 1.5 s of CPU), and every
``ioc analytics ...`` process imports this module to build its command line, among them the
alert engine (``ioc analytics alerts run``), which never forecasts.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from analytics.forecast.csv_input import load_series
from analytics.forecast.errors import ForecastInputError
from analytics.forecast.targets import TARGETS, spec_for
from analytics.history.long_form import parse_time
from ioc_core.cli.common import fail_cleanly, settings_from_env
from ioc_core.db import connect_db

__all__ = ["backtest_command", "forecast_once_command", "zone"]


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ForecastInputError(f"unknown time zone {name!r} (e.g. Asia/Ho_Chi_Minh)") from None


@fail_cleanly
def backtest_command(
    input_path: Annotated[
        Path,
        typer.Option(
            "--input", exists=True, dir_okay=False, help="Long form: time,device,metric,value"
        ),
    ],
    target: Annotated[str, typer.Option("--target", help=f"Metric, e.g. {', '.join(TARGETS)}")],
    test_start: Annotated[
        str | None,
        typer.Option(
            "--test-start", help="ISO 8601 with offset; default: the last quarter of the file"
        ),
    ] = None,
    refit_days: Annotated[float, typer.Option("--refit-days", min=0.1)] = 30.0,
    max_train_days: Annotated[float | None, typer.Option("--max-train-days", min=1)] = None,
    stride: Annotated[int, typer.Option("--stride", min=1, help="Issue every N steps")] = 1,
    step_s: Annotated[int | None, typer.Option("--step", min=60, help="Grid step (s)")] = None,
    tz: Annotated[str, typer.Option("--tz", help="Zone of the calendar features")] = (
        "Asia/Ho_Chi_Minh"
    ),
    exog: Annotated[str, typer.Option("--exog", help="Other metrics as inputs: a,b")] = "",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Rolling-origin backtest of the model against persistence and seasonal-naive."""  # fmt: skip
    from analytics.forecast.backtest import BacktestConfig, backtest
    from analytics.forecast.model import ModelConfig

    exog_names = tuple(e.strip() for e in exog.split(",") if e.strip())
    series, step = load_series(input_path, target, step_s=step_s, exog=exog_names)
    spec = spec_for(target, step_s=step)
    config = BacktestConfig(
        test_start=parse_time(test_start) if test_start else None,
        refit_every=timedelta(days=refit_days),
        max_train=timedelta(days=max_train_days) if max_train_days else None,
        origin_stride=stride,
        model=ModelConfig(seed=seed),
    )
    result = backtest(series, spec, zone(tz), config)
    result["input"] = str(input_path)
    if not as_json:
        _print_table(result)
    typer.echo(json.dumps(_finite(result)))


@fail_cleanly
def forecast_once_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Train every served target's model on the rollups and issue forecasts once (what
    ``ioc analytics run`` does every IOC_FORECAST_INTERVAL_S)."""
    from analytics.forecast.service import ModelCache, run_forecasts

    settings = settings_from_env()
    with connect_db(settings, autocommit=True) as conn:
        report = run_forecasts(conn, settings, ModelCache())
    typer.echo(json.dumps(report.as_dict()) if as_json else str(report.as_dict()))


def _print_table(result: dict[str, Any]) -> None:
    typer.echo(f"{result['target']}: test {result['test']['from']} .. {result['test']['to']}, "
               f"{len(result['refits'])} refits, {result['elapsed_s']} s")  # fmt: skip
    typer.echo("horizon_h  " + "  ".join(f"{m:>26}" for m in ("model", "persistence",
                                                              "seasonal_naive")))  # fmt: skip
    for i, h in enumerate(result["horizons"]):
        cells = [
            f"MASE {result[m]['mase'][i]!s:>6} cov {result[m]['coverage'][i]!s:>6}"
            for m in ("model", "persistence", "seasonal_naive")
        ]
        typer.echo(f"{h:>9}  " + "  ".join(f"{c:>26}" for c in cells))


def _finite(value: Any) -> Any:
    """NaN is not JSON: a horizon without pairs reports null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
