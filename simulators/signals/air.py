"""Air-quality stations and weather stations."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from simulators.noise import OrnsteinUhlenbeck, soft_cap
from simulators.signals.base import Signal
from simulators.sky import ICT, daylight
from simulators.world import World, traffic_factor

_TWO_HOURS = timedelta(hours=2)
SLOW_SIGMA, SLOW_TAU_S = 0.45, 30 * 3600.0
FAST_SIGMA, FAST_TAU_S = 0.2, 3 * 3600.0
JITTER_SIGMA, JITTER_TAU_S = 0.15, 900.0  # plumes passing: what makes hour differ from hour
HUMIDITY_GAIN = 0.006  # optical over-reading and hygroscopic growth above ~75 % RH
_LOGNORMAL_BIAS = (
    SLOW_SIGMA**2 + FAST_SIGMA**2 + JITTER_SIGMA**2
) / 2  # keeps the mean at the city level


class AirQualitySignal(Signal):
    """PM2.5 = city level (season) x Hanoi-calibrated hour shape x local traffic x humidity
    x inversion x rain washout x slow and fast log-normal noise; PM10 from PM2.5 with a
    coarse fraction; NO2 and CO with traffic; O3 with daylight, lagged two hours."""

    def __init__(self, seed: str, *, urban: float, industrial: bool = False) -> None:
        super().__init__(seed)
        self.urban = urban  # 0.7 rural ... 1.2 busy ward
        self.industrial = industrial
        # Log-normal noise fitted to the Hanoi series' spread and persistence (calibration.py):
        # a synoptic component (days) and an hours-long one.
        self.slow = OrnsteinUhlenbeck(self.rng, sigma=SLOW_SIGMA, tau_s=SLOW_TAU_S)
        self.fast = OrnsteinUhlenbeck(self.rng, sigma=FAST_SIGMA, tau_s=FAST_TAU_S)
        self.jitter = OrnsteinUhlenbeck(self.rng, sigma=JITTER_SIGMA, tau_s=JITTER_TAU_S)
        # Ozone is regional (photochemistry over the whole delta): stations agree closely.
        self.o3_noise = OrnsteinUhlenbeck(self.rng, sigma=0.03, tau_s=3600)
        self.coarse = self.rng.uniform(1.45, 1.75)

    def sample(self, at: datetime, world: World) -> dict[str, float]:
        dt = self._dt(at)
        wx = world.weather.conditions(at)
        traffic = traffic_factor(at)
        noise = self.slow.step(dt) + self.fast.step(dt) + self.jitter.step(dt)
        humidity = 1 + HUMIDITY_GAIN * max(0.0, wx["humidity"] - 75)
        washout = math.exp(-0.06 * wx["rain_rate"]) * math.exp(-0.02 * max(0, wx["wind_speed"] - 5))
        pm25 = (
            world.pm_level(at)
            * self.urban
            * world.pm_hour(at)
            * (0.85 + 0.15 * traffic)
            * humidity
            * world.inversion(at)
            * washout
            * math.exp(noise - _LOGNORMAL_BIAS)
        )
        pm10 = pm25 * self.coarse * (1 + 0.1 * (wx["wind_speed"] > 6))
        if world.air.pm25_cap is not None:
            pm25 = soft_cap(pm25, world.air.pm25_cap)
            pm10 = soft_cap(pm10, world.air.pm25_cap * 2.1)
        # The analyser's own noise (about 1 % of a reading plus 0.3 ug/m3): readings never
        # repeat exactly, also where the cap flattens the signal.
        pm25 += self.rng.gauss(0, 0.3 + 0.01 * pm25)
        pm10 += self.rng.gauss(0, 0.5 + 0.01 * pm10)
        sun_lag = daylight(at.replace(minute=0) - _TWO_HOURS)
        o3 = (12 + 85 * sun_lag**1.3 * (wx["temperature"] / 28)) * math.exp(self.o3_noise.step(dt))
        return {
            "pm25": round(max(1.0, pm25), 1),
            "pm10": round(max(2.0, pm10), 1),
            "no2": round(max(2.0, (12 + 22 * traffic) * self.urban * math.exp(noise * 0.4)), 1),
            "so2": round(max(1.0, (22 if self.industrial else 9) * math.exp(noise * 0.3)), 1),
            "co": round(max(200.0, (500 + 900 * traffic) * self.urban * math.exp(noise * 0.4))),
            "o3": round(max(2.0, o3), 1),
            "temperature": round(wx["temperature"] + self.rng.gauss(0, 0.15), 1),
            "humidity": round(min(100.0, wx["humidity"] + self.rng.gauss(0, 1)), 1),
            "pressure": round(wx["pressure"] + self.rng.gauss(0, 0.2), 1),
        }


class WeatherSignal(Signal):
    """Rain is depth since the previous reading (tipping bucket, 0.2 mm resolution)."""

    def __init__(self, seed: str, *, rain_factor: float, coastal: bool) -> None:
        super().__init__(seed)
        self.rain_factor = rain_factor
        self.coastal = coastal
        self.bucket = 0.0
        self.gust = OrnsteinUhlenbeck(self.rng, sigma=0.15, tau_s=600)

    def sample(self, at: datetime, world: World) -> dict[str, float]:
        dt = self._dt(at) or 60.0
        wx = world.weather.conditions(at)
        rate = wx["rain_rate"] * self.rain_factor
        self.bucket += rate * dt / 3600
        tips = math.floor(self.bucket / 0.2)
        self.bucket -= tips * 0.2
        wind = wx["wind_speed"] * (1.3 if self.coastal else 1.0) * math.exp(self.gust.step(dt))
        local = at.astimezone(ICT)
        monsoon = 45.0 if local.month in (10, 11, 12, 1, 2, 3) else 135.0
        return {
            "rain": round(tips * 0.2, 1),
            "rain_rate": round(rate, 1),
            "wind_speed": round(wind, 1),
            "wind_gust": round(wind * self.rng.uniform(1.3, 1.7), 1),
            "wind_direction": round((monsoon + self.rng.gauss(0, 25)) % 360, 0),
            "temperature": round(wx["temperature"] + self.rng.gauss(0, 0.15), 1),
            "humidity": round(min(100.0, wx["humidity"] + self.rng.gauss(0, 1)), 1),
            "pressure": round(wx["pressure"] + self.rng.gauss(0, 0.15), 1),
            "battery_voltage": round(12.6 + 0.8 * daylight(at) + self.rng.gauss(0, 0.02), 2),
        }
