"""Water-level gauges (tide + river + surge), drainage sensors, water-supply loggers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from simulators.noise import OrnsteinUhlenbeck
from simulators.signals.base import Signal
from simulators.sky import ICT, daylight
from simulators.world import World

# Hòn Dấu tidal constituents (amplitude cm, speed deg/h, phase deg): a diurnal regime, O1 and
# K1 dominant, so one high and one low water a day and a spring range of 3-4 m twice a month
# (tropic tides), nearly nothing at the equinoctial neaps.
CONSTITUENTS = (
    ("O1", 88.0, 13.9430356, 295.0),
    ("K1", 80.0, 15.0410686, 40.0),
    ("P1", 26.0, 14.9589314, 35.0),
    ("Q1", 17.0, 13.3986609, 260.0),
    ("M2", 13.0, 28.9841042, 110.0),
    ("S2", 5.0, 30.0, 150.0),
)
MAX_TIDE_CM = sum(c[1] for c in CONSTITUENTS)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC).timestamp()


def tide_cm(t: float, *, lag_h: float = 0.0) -> float:
    """Astronomical tide at Hòn Dấu relative to mean sea level, ``lag_h`` hours later upriver."""
    hours = (t - _EPOCH) / 3600 - lag_h
    return sum(
        a * math.cos(math.radians(speed * hours - phase)) for _, a, speed, phase in CONSTITUENTS
    )


@dataclass(frozen=True)
class GaugeSite:
    """How one gauge responds: tide damped and delayed upriver, rain with the river's lag."""

    tide_factor: float  # 1 at the coast, ~0.5 far upriver
    tide_lag_h: float
    river_gain_cm_per_mm: float  # 0 at the open coast
    river_lag_h: float
    surge_factor: float  # share of the coastal surge that reaches the gauge
    datum_offset_cm: float  # mean level at the site relative to its datum

    def baseline_max_cm(self) -> float:
        """The highest level without a storm: spring high water plus the largest rain rise
        the baseline allows (see GaugeSignal) plus noise."""
        rain = 40.0 if self.river_gain_cm_per_mm > 0 else 0.0
        return self.datum_offset_cm + self.tide_factor * MAX_TIDE_CM + rain + 5.0

    def levels(self) -> dict[str, float]:
        """Alert (báo động) and danger levels above anything the baseline reaches, so only a
        storm or an injected fault crosses them."""
        alert = math.ceil((self.baseline_max_cm() + 25) / 10) * 10
        return {
            "reference_level": round(self.datum_offset_cm),
            "alert_level": alert,
            "danger_level": alert + 60,
        }

    def level(self, t: float, world: World) -> float:
        rain_rise = 40.0 * math.tanh(
            world.weather.runoff(
                t, lag_h=self.river_lag_h, gain_cm_per_mm=self.river_gain_cm_per_mm
            )
            / 40.0
        )
        return (
            self.datum_offset_cm
            + self.tide_factor * tide_cm(t, lag_h=self.tide_lag_h)
            + rain_rise
            + self.storm_rise(t, world)
        )

    def storm_rise(self, t: float, world: World) -> float:
        if not world.weather.storms:
            return 0.0
        river = 0.0
        for storm in world.weather.storms:
            hours = (storm.end - storm.start) / 3600
            depth = storm.peak_rain_mm_h * hours * 0.45
            x = ((t - storm.start) / 3600 - hours * 0.5) / self.river_lag_h
            river += (
                depth
                * self.river_gain_cm_per_mm
                * 0.6
                * (x**2 * math.exp(2 * (1 - x)) if x > 0 else 0)
            )
        return self.surge_factor * world.weather.surge(t) + river


class GaugeSignal(Signal):
    def __init__(self, seed: str, *, site: GaugeSite) -> None:
        super().__init__(seed)
        self.site = site
        self.noise = OrnsteinUhlenbeck(self.rng, sigma=1.5, tau_s=900)

    def sample(self, at: datetime, world: World) -> dict[str, float]:
        dt = self._dt(at)
        level = self.site.level(at.timestamp(), world) + self.noise.step(dt)
        return {
            "water_level": round(level, 1),
            "battery_voltage": round(12.5 + 0.9 * daylight(at) + self.rng.gauss(0, 0.02), 2),
        }


class DrainageSignal(Signal):
    """Dry-weather sewage flow with a morning and evening peak; rain fills pipes in minutes."""

    def __init__(self, seed: str, *, pipe_cm: float) -> None:
        super().__init__(seed)
        self.pipe_cm = pipe_cm
        self.noise = OrnsteinUhlenbeck(self.rng, sigma=0.08, tau_s=1800)

    def sample(self, at: datetime, world: World) -> dict[str, float]:
        dt = self._dt(at)
        local = at.astimezone(ICT)
        hour = local.hour + local.minute / 60
        dry = (
            0.08
            + 0.04 * math.exp(-((hour - 7.5) ** 2) / 3)
            + 0.04 * math.exp(-((hour - 19) ** 2) / 4)
        )
        storm = world.weather.runoff(at.timestamp(), lag_h=0.5, gain_cm_per_mm=0.025)
        fill = min(1.6, dry * math.exp(self.noise.step(dt)) + storm)
        level = fill * self.pipe_cm
        flow = 1.6 * self.pipe_cm**1.6 * min(fill, 1.0) ** 1.5
        return {"level": round(level, 1), "flow": round(flow, 1)}


class WaterSupplySignal(Signal):
    """District meter: demand peaks morning and evening; pressure sags as flow rises; the
    night minimum flow is the leak indicator operators watch."""

    def __init__(self, seed: str, *, base_m3_h: float) -> None:
        super().__init__(seed)
        self.base = base_m3_h
        self.total = self.rng.uniform(1e5, 5e6)
        self.noise = OrnsteinUhlenbeck(self.rng, sigma=0.05, tau_s=1800)
        self.chlorine = OrnsteinUhlenbeck(self.rng, sigma=0.05, tau_s=6 * 3600)

    def sample(self, at: datetime, world: World) -> dict[str, float]:
        dt = self._dt(at)
        local = at.astimezone(ICT)
        hour = local.hour + local.minute / 60
        demand = (
            0.35
            + 0.9 * math.exp(-((hour - 6.5) ** 2) / 2)
            + 0.8 * math.exp(-((hour - 18.5) ** 2) / 3)
        )
        demand += 0.35 * (7 <= hour <= 22)
        flow = self.base * demand * math.exp(self.noise.step(dt))
        self.total += flow * dt / 3600
        return {
            "pressure": round(3.4 - 1.1 * demand / 1.6 + self.rng.gauss(0, 0.03), 2),
            "flow": round(flow, 1),
            "volume_total": round(self.total, 1),
            "chlorine_residual": round(max(0.05, 0.55 + self.chlorine.step(dt)), 2),
        }
