"""The real reference series, converted for the backtest: data-quality cases handled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analytics.forecast.csv_input import load_series

REAL = Path("/work/shared/data/real")
SCRIPT = Path(__file__).parents[2] / "scripts" / "real_to_long.py"
pytestmark = pytest.mark.skipif(not REAL.exists(), reason="the shared real data is not here")


def convert(kind: str, source: str, device: str, out: Path) -> None:
    subprocess.run([sys.executable, str(SCRIPT), kind, str(REAL / source), device, str(out)],
                   check=True, capture_output=True, timeout=120)  # fmt: skip


def test_i94_hours_once_and_sensor_faults_left_out(tmp_path: Path) -> None:
    out = tmp_path / "i94.csv"
    convert("i94", "metro_interstate_traffic_volume_2012-2016.csv", "i94", out)
    (series,), step = load_series(out, "traffic_volume", exog=("temperature", "rain_1h"))
    assert step == 3600
    known = np.isfinite(series.grid.values)
    # 29,650 rows, of which repeats of an hour are dropped; the 2014-15 gap stays a gap.
    assert 24_000 < known.sum() < 29_650
    assert np.nanmax(series.grid.values) < 8_000
    temps = series.exog["temperature"][known]
    assert np.nanmin(temps) > -40  # the 0 K rows are not -273 °C
    assert np.nanmax(series.exog["rain_1h"]) <= 100
    longest_gap = np.diff(np.flatnonzero(known)).max()
    assert longest_gap > 24 * 200  # the long gap of 2014-15 is not filled in


def test_hanoi_valid_hours_in_local_time(tmp_path: Path) -> None:
    out = tmp_path / "hanoi.csv"
    convert("airnow", "hanoi_usembassy_pm25_hourly_2016-2017.csv", "hanoi", out)
    (series,), step = load_series(out, "pm25")
    assert step == 3600
    assert np.isfinite(series.grid.values).sum() == 16_993
    assert series.grid.time_of(0).isoformat() == "2015-12-31T18:00:00+00:00"  # 01:00 UTC+7
    assert np.nanmin(series.grid.values) >= 0
