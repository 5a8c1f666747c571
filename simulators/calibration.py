"""How close the simulated signals come to the real series (``ioc simulate calibrate``).

Compares shapes, not levels: Hai Phong is not Hanoi, Minneapolis or Vlissingen. For each pair
it prints the figures docs/simulators.md quotes: diurnal and seasonal profile correlations,
weekly ratio, autocorrelation at the lags that matter, and quantiles normalised by the median.
The real files are those of ``shared/data/real`` (README there); the path is an option.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from simulators.signals import AirQualitySignal, GaugeSignal, TrafficSignal
from simulators.sites import GAUGE_STATIONS
from simulators.sky import ICT
from simulators.weather import Weather
from simulators.world import AirOptions, World

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_REPO = Path(__file__).resolve().parents[1]
# shared/ sits beside the repository (a clone) or beside the worktrees' folder.
DEFAULT_DATA = next(
    (p / "shared" / "data" / "real" for p in (_REPO.parent, _REPO.parent.parent)
     if (p / "shared" / "data" / "real").is_dir()),
    _REPO.parent / "shared" / "data" / "real",
)  # fmt: skip


def _acf(x: np.ndarray, lag: int) -> float:
    x = x - x.mean()
    return float(np.dot(x[:-lag], x[lag:]) / np.dot(x, x))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def _norm_quantiles(x: np.ndarray) -> list[float]:
    q = np.quantile(x, QUANTILES)
    return [round(float(v / q[2]), 3) for v in q]


def _hourly(samples: list[tuple[datetime, float]]) -> tuple[list[datetime], np.ndarray]:
    """Hourly means of (time, value) samples, keyed by the hour's start."""
    sums: dict[datetime, list[float]] = defaultdict(list)
    for at, v in samples:
        sums[at.replace(minute=0, second=0, microsecond=0)].append(v)
    hours = sorted(sums)
    return hours, np.array([np.mean(sums[h]) for h in hours])


# --- PM2.5 ---------------------------------------------------------------------------------
def real_pm25(path: Path) -> tuple[list[datetime], np.ndarray]:
    times, values = [], []
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            value = float(row["Raw Conc."])
            if row["QC Name"] != "Valid" or value < 0:
                continue
            local = datetime(int(row["Year"]), int(row["Month"]), int(row["Day"]), tzinfo=ICT)
            times.append(local + timedelta(hours=int(row["Hour"])))
            values.append(value)
    return times, np.array(values)


def sim_pm25(seed: int, days: int, start: datetime) -> tuple[list[datetime], np.ndarray]:
    end = start + timedelta(days=days)
    world = World(seed=seed, weather=Weather(seed=seed, start=start, end=end), air=AirOptions())
    signal = AirQualitySignal(f"cal-{seed}", urban=1.1)
    samples, at = [], start
    while at < end:
        samples.append((at, signal.sample(at, world)["pm25"]))
        at += timedelta(minutes=15)
    return _hourly(samples)


def _profile(times: list[datetime], values: np.ndarray, key: Any, n: int) -> np.ndarray:
    groups: dict[int, list[float]] = defaultdict(list)
    for at, v in zip(times, values, strict=True):
        groups[key(at)].append(float(v))
    profile = np.array([np.mean(groups[i]) for i in range(n)])
    return profile / profile.mean()


def _hour(at: datetime) -> int:
    return at.astimezone(ICT).hour


def _month(at: datetime) -> int:
    return at.astimezone(ICT).month - 1


def _season_mean(times: list[datetime], values: np.ndarray, months: tuple[int, ...]) -> float:
    return float(np.mean([v for a, v in zip(times, values, strict=True) if a.month in months]))


def compare_pm25(path: Path, seed: int) -> dict[str, Any]:
    rt, rv = real_pm25(path)
    st, sv = sim_pm25(seed, 730, datetime(2024, 1, 1, tzinfo=UTC))
    r_h, s_h = _profile(rt, rv, _hour, 24), _profile(st, sv, _hour, 24)
    r_m, s_m = _profile(rt, rv, _month, 12), _profile(st, sv, _month, 12)

    def winter(t: list[datetime], v: np.ndarray) -> float:
        return _season_mean(t, v, (12, 1, 2))

    def summer(t: list[datetime], v: np.ndarray) -> float:
        return _season_mean(t, v, (6, 7, 8))

    return {
        "real": "Hanoi US Embassy PM2.5, hourly 2016-2017",
        "hours": [len(rv), len(sv)],
        "mean_ug_m3": [round(float(rv.mean()), 1), round(float(sv.mean()), 1)],
        "diurnal_profile_corr": round(_corr(r_h, s_h), 3),
        "monthly_profile_corr": round(_corr(r_m, s_m), 3),
        "winter_to_summer": [
            round(winter(rt, rv) / summer(rt, rv), 2),
            round(winter(st, sv) / summer(st, sv), 2),
        ],
        "acf_log_lag1h": [
            round(_acf(np.log(np.maximum(rv, 1)), 1), 3),
            round(_acf(np.log(sv), 1), 3),
        ],
        "acf_log_lag24h": [
            round(_acf(np.log(np.maximum(rv, 1)), 24), 3),
            round(_acf(np.log(sv), 24), 3),
        ],
        "quantiles_over_median": [_norm_quantiles(rv), _norm_quantiles(sv)],
    }


# --- traffic -------------------------------------------------------------------------------
def real_traffic(path: Path) -> tuple[list[datetime], np.ndarray]:
    seen: dict[datetime, float] = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            at = datetime.fromisoformat(row["date_time"]).replace(tzinfo=ICT)  # local clock
            seen.setdefault(at, float(row["traffic_volume"]))  # repeated hours: keep the first
    times = sorted(seen)
    return times, np.array([seen[t] for t in times])


def sim_traffic(seed: int, days: int, start: datetime) -> tuple[list[datetime], np.ndarray]:
    end = start + timedelta(days=days)
    world = World(seed=seed, weather=Weather(seed=seed, start=start, end=end))
    signal = TrafficSignal(f"cal-{seed}", capacity=50, port=False)
    samples, at = [], start
    while at < end:
        m = signal.sample(at, world)
        samples.append((at, sum(v for k, v in m.items() if k.startswith("count_"))))
        at += timedelta(minutes=5)
    return _hourly(samples)


def _weekly(times: list[datetime], values: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    wk: dict[int, list[float]] = defaultdict(list)
    we: dict[int, list[float]] = defaultdict(list)
    for at, v in zip(times, values, strict=True):
        local = at.astimezone(ICT)
        (we if local.weekday() >= 5 else wk)[local.hour].append(float(v))
    a = np.array([np.mean(wk[h]) for h in range(24)])
    b = np.array([np.mean(we[h]) for h in range(24)])
    return a / a.mean(), b / a.mean(), float(b.sum() / a.sum())


def _contiguous(times: list[datetime], values: np.ndarray) -> np.ndarray:
    """The longest run of consecutive hours (I-94 has a long gap in 2014-15)."""
    best, cur = (0, 0), 0
    for i in range(1, len(times) + 1):
        if i == len(times) or times[i] - times[i - 1] != timedelta(hours=1):
            if i - cur > best[1] - best[0]:
                best = (cur, i)
            cur = i
    return values[best[0] : best[1]]


def compare_traffic(path: Path, seed: int) -> dict[str, Any]:
    rt, rv = real_traffic(path)
    st, sv = sim_traffic(seed, 56, datetime(2026, 3, 2, tzinfo=UTC))
    r_wk, r_we, r_ratio = _weekly(rt, rv)
    s_wk, s_we, s_ratio = _weekly(st, sv)
    run = _contiguous(rt, rv)
    return {
        "real": "I-94 Minneapolis hourly volume 2012-2018 (longest gap-free run for ACF)",
        "weekday_profile_corr": round(_corr(r_wk, s_wk), 3),
        "weekend_profile_corr": round(_corr(r_we, s_we), 3),
        "weekend_to_weekday": [round(r_ratio, 3), round(s_ratio, 3)],
        "acf_lag1h": [round(_acf(run, 1), 3), round(_acf(sv, 1), 3)],
        "acf_lag24h": [round(_acf(run, 24), 3), round(_acf(sv, 24), 3)],
        "acf_lag168h": [round(_acf(run, 168), 3), round(_acf(sv, 168), 3)],
        "quantiles_over_median": [_norm_quantiles(rv), _norm_quantiles(sv)],
    }


# --- water level ---------------------------------------------------------------------------
def real_tide(path: Path) -> np.ndarray:
    with path.open(encoding="utf-8") as handle:
        return np.array([float(r["water_level_cm_nap"]) for r in csv.DictReader(handle)
                         if r["qc"] == "0"])  # fmt: skip


def sim_tide(seed: int, days: int, start: datetime) -> np.ndarray:
    end = start + timedelta(days=days)
    world = World(seed=seed, weather=Weather(seed=seed, start=start, end=end))
    signal = GaugeSignal(f"cal-{seed}", site=GAUGE_STATIONS[0].site)  # Hòn Dấu, the coast
    return np.array([signal.sample(start + timedelta(hours=h), world)["water_level"]
                     for h in range(days * 24)])  # fmt: skip


def _daily_range(x: np.ndarray) -> np.ndarray:
    days = len(x) // 24
    return np.ptp(x[: days * 24].reshape(days, 24), axis=1)


def _band_share(x: np.ndarray, lo_h: float, hi_h: float) -> float:
    """Share of the variance in periods between lo_h and hi_h hours."""
    spec = np.abs(np.fft.rfft(x - x.mean())) ** 2
    freq = np.fft.rfftfreq(len(x), d=1.0)
    periods = np.divide(1.0, freq, out=np.full_like(freq, np.inf), where=freq > 0)
    return float(spec[(periods >= lo_h) & (periods <= hi_h)].sum() / spec[1:].sum())


def compare_tide(path: Path, seed: int) -> dict[str, Any]:
    real = real_tide(path)[: 24 * 365 * 2]
    sim = sim_tide(seed, 365, datetime(2025, 1, 1, tzinfo=UTC))
    r_range, s_range = _daily_range(real), _daily_range(sim)
    return {
        "real": "Vlissingen hourly water level 1976-1977 (semi-diurnal North Sea; shape only)",
        "daily_range_cm_p10_p50_p90": [
            [round(float(v)) for v in np.quantile(r_range, (0.1, 0.5, 0.9))],
            [round(float(v)) for v in np.quantile(s_range, (0.1, 0.5, 0.9))],
        ],
        "diurnal_band_share": [
            round(_band_share(real, 22, 27), 3),
            round(_band_share(sim, 22, 27), 3),
        ],
        "semidiurnal_band_share": [
            round(_band_share(real, 11.5, 13), 3),
            round(_band_share(sim, 11.5, 13), 3),
        ],
        "acf_lag1h": [round(_acf(real, 1), 3), round(_acf(sim, 1), 3)],
        "acf_lag25h": [round(_acf(real, 25), 3), round(_acf(sim, 25), 3)],
        "spring_neap_range_ratio": [
            round(float(np.quantile(r_range, 0.9) / np.quantile(r_range, 0.1)), 2),
            round(float(np.quantile(s_range, 0.9) / np.quantile(s_range, 0.1)), 2),
        ],
    }


def calibrate(data: Path, seed: int = 1) -> dict[str, Any]:
    """Every comparison; each two-element list is [real, simulated]."""
    return {
        "pm25": compare_pm25(data / "hanoi_usembassy_pm25_hourly_2016-2017.csv", seed),
        "traffic": compare_traffic(data / "metro_interstate_traffic_volume_2012-2016.csv", seed),
        "water_level": compare_tide(data / "vlissingen_tide_hourly_1976-1990.csv", seed),
    }
