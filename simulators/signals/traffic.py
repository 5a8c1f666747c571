"""Edge-analysed traffic cameras on the port and industrial corridors."""

from __future__ import annotations

import math
from datetime import datetime

from simulators.noise import OrnsteinUhlenbeck, poisson
from simulators.signals.base import Signal
from simulators.sky import ICT
from simulators.world import World, traffic_factor

# Share of each class in Hai Phong's urban flow (motorbikes dominate, as across Vietnam).
URBAN_MIX = {"motorbike": 0.80, "car": 0.12, "bus_truck": 0.04, "bicycle": 0.04}
# On the port corridors (Đình Vũ, Tân Vũ-Lạch Huyện, QL5) containers are a large share,
# and they run day and night.
PORT_MIX = {"motorbike": 0.55, "car": 0.17, "bus_truck": 0.26, "bicycle": 0.02}


class TrafficSignal(Signal):
    """Counts per class and direction per interval (Poisson around the city's rhythm), with
    occupancy, speed and queue from a simple speed-flow relation. ``capacity`` is vehicles
    per minute per direction at the weekday mean; the morning peak flows inbound."""

    def __init__(self, seed: str, *, capacity: float, port: bool) -> None:
        super().__init__(seed)
        self.capacity = capacity
        self.mix = PORT_MIX if port else URBAN_MIX
        self.port = port
        self.noise = OrnsteinUhlenbeck(self.rng, sigma=0.1, tau_s=1800)
        # Day-to-day swings (weather, events, holidays) the I-94 series shows at lag 24 h.
        self.daily = OrnsteinUhlenbeck(self.rng, sigma=0.18, tau_s=2 * 86_400)
        self.free_speed = self.rng.uniform(38, 50)

    def sample(self, at: datetime, world: World) -> dict[str, float]:
        dt = self._dt(at)
        minutes = (dt or 60.0) / 60
        base = traffic_factor(at)
        local = at.astimezone(ICT)
        hour = local.hour + local.minute / 60
        tilt = 0.15 * math.tanh((12 - hour) / 2)  # inbound heavier in the morning
        rain = world.weather.rain_rate(at.timestamp())
        noise = self.noise.step(dt) + self.daily.step(dt)
        level = base * math.exp(noise) * (1 - min(0.4, 0.02 * rain))
        out: dict[str, float] = {}
        for cls, share in self.mix.items():
            truck_night = (
                1.8 if cls == "bus_truck" and self.port and (hour < 6 or hour > 21) else 1.0
            )
            mean = self.capacity * share * level * minutes * truck_night
            out[f"count_{cls}_in"] = float(poisson(self.rng, mean * (1 + tilt)))
            out[f"count_{cls}_out"] = float(poisson(self.rng, mean * (1 - tilt)))
        saturation = min(1.0, level / 2.6)
        speed = self.free_speed * (1 - 0.45 * saturation**3) * (1 - min(0.2, 0.01 * rain))
        out["occupancy"] = round(min(100.0, 4 + 38 * saturation**1.5 + self.rng.gauss(0, 1)), 1)
        out["mean_speed"] = round(max(5.0, speed + self.rng.gauss(0, 1.5)), 1)
        out["queue_length"] = round(max(0.0, 60 * saturation**3 + self.rng.gauss(0, 3)), 0)
        out["camera_health"] = 1.0
        return out
