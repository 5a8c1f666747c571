"""VN_AQI (QĐ 1459/QĐ-TCMT) as a specification: the decision's worked examples, its data rules,
the choices it leaves open, the CLI, and a sanity check on real hourly PM2.5 from Hanoi."""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from analytics.aqi import (
    VN_TZ,
    AqiInputError,
    aqi_report,
    band_for,
    combine,
    daily_aqi,
    day_of,
    hourly_aqi,
    nowcast,
    read_long_csv,
    sub_index,
    to_ugm3,
)

REPO = Path(__file__).resolve().parents[2]
IOC = Path(sys.executable).parent / "ioc"
HANOI = REPO.parent / "shared" / "data" / "real" / "hanoi_usembassy_pm25_hourly_2016-2017.csv"
H = timedelta(hours=1)
NOON = datetime(2024, 3, 5, 12, tzinfo=VN_TZ)

# The decision's hourly example: PM2.5 hourly means from the current hour back (c1 first).
EXAMPLE_PM25 = [20.6, 19.6, 22.4, 20.3, 16.5, 19.0, 16.5, 19.5, 23.5, 20.5, 24.7, 26.9]


def back_from(end: datetime, values: list[float | None]) -> dict[datetime, float]:
    """An hourly series with values[0] at ``end`` and each next one an hour earlier."""
    return {end - i * H: v for i, v in enumerate(values) if v is not None}


# --- worked examples of the decision ------------------------------------------------------


def test_hourly_worked_example():
    assert nowcast(EXAMPLE_PM25) == pytest.approx(20.3, abs=0.05)
    means = {
        "pm25": back_from(NOON, EXAMPLE_PM25),
        "o3": {NOON: 136.1},
        "no2": {NOON: 118.7},
    }
    result = hourly_aqi(means, NOON)
    assert result.sub_indices["pm25"] == pytest.approx(41, abs=1)
    assert result.sub_indices["o3"] == pytest.approx(43, abs=1)
    assert result.sub_indices["no2"] == pytest.approx(60, abs=1)
    assert result.aqi == pytest.approx(60, abs=1)
    assert result.dominant == "no2"


def test_daily_worked_example():
    day = date(2024, 3, 5)
    first = datetime(2024, 3, 5, 1, tzinfo=VN_TZ)
    hours = [first + i * H for i in range(24)]
    # O3: one hour at 114.6 inside an 8-hour block whose mean is 89.3; zero elsewhere.
    rest = (89.3 * 8 - 114.6) / 7
    o3 = {h: 0.0 for h in hours} | {hours[10 + i]: rest for i in range(8)} | {hours[13]: 114.6}
    no2 = {h: 40.0 for h in hours} | {hours[8]: 130.8}
    means = {"pm25": {h: 55.7 for h in hours}, "o3": o3, "no2": no2}
    result = daily_aqi(means, day)
    assert result.sub_indices["o3"] == pytest.approx(45, abs=1)
    assert sub_index("o3_1h", 114.6) == pytest.approx(36, abs=1)
    assert result.sub_indices["no2"] == pytest.approx(65, abs=1)
    assert result.sub_indices["pm25"] == pytest.approx(110, abs=1)
    assert result.aqi == pytest.approx(110, abs=1)
    assert result.dominant == "pm25"


# --- NowCast and missing data -------------------------------------------------------------


def test_nowcast_needs_two_of_the_last_three_hours():
    assert nowcast([30.0, 20.0, None, 25.0]) is not None
    assert nowcast([None, 20.0, 10.0]) is not None
    assert nowcast([30.0, None, None, 25.0, 25.0]) is None
    assert nowcast([30.0]) is None


def test_nowcast_weight_has_a_floor_of_one_half():
    # min/max = 0.1 < 0.5, so w = 0.5: (100 + 0.5*10) / 1.5
    assert nowcast([100.0, 10.0]) == pytest.approx(70.0)
    assert nowcast([0.0, 0.0, 0.0]) == 0.0


def test_missing_hours_contribute_nothing():
    full = nowcast([40.0, 40.0, 40.0, 40.0])
    gappy = nowcast([40.0, None, 40.0, None])
    assert full == gappy == pytest.approx(40.0)


def test_no_pm_means_no_aqi_even_with_gases():
    result = hourly_aqi({"no2": {NOON: 150.0}, "pm25": {NOON: 30.0}}, NOON)
    assert result.aqi is None and result.dominant is None
    assert combine({"o3": 80.0}).aqi is None
    assert combine({"pm10": 20.0, "o3": 80.0}).dominant == "o3"


def test_daily_needs_18_of_24_hours():
    day = date(2024, 3, 5)
    hours = [datetime(2024, 3, 5, 1, tzinfo=VN_TZ) + i * H for i in range(24)]
    assert daily_aqi({"pm25": {h: 30.0 for h in hours[:18]}}, day).aqi == 60
    assert daily_aqi({"pm25": {h: 30.0 for h in hours[:17]}}, day).aqi is None


# --- choices the decision leaves open; conversions ----------------------------------------


def test_above_the_top_breakpoint_caps_at_500():
    assert sub_index("pm25", 500) == 500
    assert sub_index("pm25", 900) == 500
    assert sub_index("co", 1e6) == 500
    assert band_for(500).name_en == "Hazardous"
    with pytest.raises(ValueError):
        sub_index("pm25", -1)


def test_bands_carry_names_colours_and_advice():
    assert (band_for(50).name_vi, band_for(51).name_vi) == ("Tốt", "Trung bình")
    assert band_for(150).rgb == (255, 126, 0)
    assert band_for(201).colour == "purple"
    assert band_for(160).sensitive.en and band_for(160).general.vi


def test_ppb_and_ppm_convert_at_25_degrees():
    assert to_ugm3(100, "ppb", "no2") == pytest.approx(188.2, abs=0.1)
    assert to_ugm3(1, "ppm", "co") == pytest.approx(1145.6, abs=0.5)
    assert to_ugm3(50, "ppb", "o3") == pytest.approx(98.2, abs=0.1)
    with pytest.raises(ValueError):
        to_ugm3(10, "ppb", "pm25")


def _o3_day(values: list[float]) -> dict[str, dict[datetime, float]]:
    hours = [datetime(2024, 3, 5, 1, tzinfo=VN_TZ) + i * H for i in range(24)]
    return {"pm25": {h: 10.0 for h in hours}, "o3": dict(zip(hours, values, strict=True))}


def test_daily_o3_takes_the_larger_of_1h_and_8h():
    # 8 h mean 150 -> 130 (8 h column); 1 h max 150 -> 46.9 (1 h column): 8 h wins.
    result = daily_aqi(_o3_day([150.0] * 24), date(2024, 3, 5))
    assert result.sub_indices["o3"] == pytest.approx(130)
    # A short spike: 1 h 700 -> 275, 8 h mean lower.
    result = daily_aqi(_o3_day([50.0] * 23 + [700.0]), date(2024, 3, 5))
    assert result.sub_indices["o3"] == pytest.approx(275)


def test_daily_o3_above_400_8h_uses_the_1h_result():
    # 8 h mean 450 is off the 8 h table; the 1 h column gives 450 -> 212.5, rounded half up.
    result = daily_aqi(_o3_day([450.0] * 24), date(2024, 3, 5))
    assert result.sub_indices["o3"] == pytest.approx(212.5)
    assert result.aqi == 213 and result.dominant == "o3"


# --- the day boundary ---------------------------------------------------------------------


def test_day_runs_from_0100_to_0000_of_the_next_day():
    assert day_of(datetime(2024, 3, 5, 1, tzinfo=VN_TZ)) == date(2024, 3, 5)
    assert day_of(datetime(2024, 3, 6, 0, tzinfo=VN_TZ)) == date(2024, 3, 5)
    assert day_of(datetime.fromisoformat("2024-03-05T17:00:00+00:00")) == date(2024, 3, 5)
    assert day_of(datetime.fromisoformat("2024-03-05T18:00:00+00:00")) == date(2024, 3, 6)


def test_daily_pm_mean_counts_the_0000_hour_and_not_the_0000_before():
    hours = [datetime(2024, 3, 5, 1, tzinfo=VN_TZ) + i * H for i in range(24)]
    pm = {h: 25.0 for h in hours[:-1]} | {hours[-1]: 25.0 + 24 * 25.0}  # 00:00 of 6 March
    pm[datetime(2024, 3, 5, 0, tzinfo=VN_TZ)] = 1000.0  # belongs to 4 March
    assert daily_aqi({"pm25": pm}, date(2024, 3, 5)).sub_indices["pm25"] == pytest.approx(
        sub_index("pm25", 50.0)
    )


# --- CSV input and the CLI ----------------------------------------------------------------


def write_long_csv(path: Path, rows: list[tuple[str, str, str, object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "station", "metric", "value"])
        writer.writerows(rows)
    return path


def run_ioc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(IOC), *args], capture_output=True, text=True, timeout=60)


def test_cli_end_to_end(tmp_path):
    rows: list[tuple[str, str, str, object]] = []
    for i in range(24):
        utc = datetime(2024, 3, 4, 18) + i * H  # 01:00..00:00 local, written in UTC
        rows.append((utc.isoformat() + "Z", "HP-LeChan", "pm25", 55.7))
        rows.append((utc.isoformat() + "+00:00", "HP-LeChan", "no2", 40.0))
    rows.append(("2024-03-05T12:00:00+07:00", "HP-DoSon", "o3", 90.0))
    result = run_ioc("aqi", "--input", str(write_long_csv(tmp_path / "h.csv", rows)), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    daily = {d["station"]: d for d in report["daily"]}
    assert daily["HP-LeChan"] == {
        "station": "HP-LeChan",
        "date": "2024-03-05",
        "aqi": 110,
        "dominant": "pm25",
    }
    assert daily["HP-DoSon"]["aqi"] is None  # ozone alone, no PM
    lechan = [h for h in report["hourly"] if h["station"] == "HP-LeChan"]
    assert lechan[0] == {
        "station": "HP-LeChan",
        "time": "2024-03-05T01:00:00+07:00",
        "aqi": None,
        "dominant": None,
    }
    assert all(h["aqi"] == 110 and h["dominant"] == "pm25" for h in lechan[1:])


def test_cli_names_bad_lines_and_exits_1(tmp_path):
    rows = [
        ("2024-03-05T01:00:00+07:00", "A", "pm25", 10),
        ("2024-03-05T02:00:00", "A", "pm25", 10),
        ("2024-03-05T03:00:00+07:00", "A", "benzene", 10),
        ("2024-03-05T04:00:00+07:00", "A", "pm25", "lots"),
    ]
    result = run_ioc("aqi", "--input", str(write_long_csv(tmp_path / "bad.csv", rows)), "--json")
    assert result.returncode == 1
    assert "line 3: time '2024-03-05T02:00:00' has no UTC offset" in result.stderr
    assert "line 4: metric 'benzene'" in result.stderr
    assert "line 5: value 'lots' is not a number" in result.stderr
    assert "Traceback" not in result.stderr


def test_duplicate_hours_are_rejected(tmp_path):
    rows = [
        ("2024-03-05T01:00:00+07:00", "A", "pm25", 10),
        ("2024-03-04T18:00:00+00:00", "A", "pm25", 12),
    ]
    with pytest.raises(AqiInputError, match="line 3: duplicate A pm25"):
        read_long_csv(write_long_csv(tmp_path / "dup.csv", rows))


# --- real data ----------------------------------------------------------------------------


def hanoi_rows(first: date, days: int) -> list[dict[str, str]]:
    """Valid rows of the US Embassy export for ``days`` days from ``first`` (first of repeats)."""
    last = first + timedelta(days=days + 1)
    seen: set[str] = set()
    rows = []
    with HANOI.open(newline="") as handle:
        for row in csv.DictReader(handle):
            stamp = datetime.strptime(row["Date (LT)"], "%Y-%m-%d %I:%M %p")
            if not first <= stamp.date() < last or row["QC Name"] != "Valid":
                continue
            if float(row["Raw Conc."]) < 0 or row["Date (LT)"] in seen:
                continue
            seen.add(row["Date (LT)"])
            rows.append(row | {"_time": stamp.replace(tzinfo=VN_TZ).isoformat()})
    return rows


@pytest.mark.skipif(not HANOI.exists(), reason="../shared real data is absent")
def test_real_hanoi_winter_pm25_is_sane(tmp_path):
    rows = hanoi_rows(date(2016, 1, 1), 10)
    path = write_long_csv(
        tmp_path / "hanoi.csv", [(r["_time"], "Hanoi-USEmb", "pm25", r["Raw Conc."]) for r in rows]
    )
    report = aqi_report(read_long_csv(path))
    hourly = [h.aqi for h in report.hourly if h.aqi is not None]
    daily = [d.aqi for d in report.daily if d.aqi is not None]
    assert len(hourly) > 150 and len(daily) >= 5
    assert all(0 <= a <= 500 for a in hourly + daily)
    # Hanoi in January: daily PM2.5 means of roughly 40-150 µg/m³, i.e. Moderate to Very bad.
    assert {band_for(a).name_en for a in daily} <= {"Moderate", "Poor", "Bad", "Very bad"}
    # The PM NowCast is the same algorithm AirNow publishes beside the raw values.
    ours = {r["_time"]: r for r in rows}
    diffs = []
    for r in rows:
        end = datetime.fromisoformat(r["_time"])
        values = [ours.get((end - i * H).isoformat()) for i in range(12)]
        value = nowcast([None if v is None else float(v["Raw Conc."]) for v in values])
        if value is not None and float(r["NowCast Conc."]) >= 0:
            diffs.append(abs(value - float(r["NowCast Conc."])))
    assert statistics.median(diffs) < 1.0
