"""Street lights and their cabinets: astronomical on/off, a night dimming schedule, commands.

The cabinet's astronomical clock switches at dusk and dawn for Hai Phong (``simulators.sky``);
between them the dimming schedule applies (full output in the evening, 50 % in the small
hours when roads are empty, full again before dawn: the usual Vietnamese LED retrofit
practice). Commands override: a ``dim`` holds its level until another command, ``set_state``
forces on or off, ``schedule`` replaces the steps. A light follows its own override first,
then its cabinet's, then the schedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from simulators.noise import OrnsteinUhlenbeck
from simulators.signals.base import Signal
from simulators.sky import ICT, is_dark
from simulators.world import World

# (minute of the local day, level %), applied while it is dark.
DEFAULT_SCHEDULE: tuple[tuple[int, int], ...] = ((0, 50), (4 * 60 + 30, 100), (22 * 60, 70))
STANDBY_W = 0.6
POWER_FACTOR = 0.95


@dataclass
class LightControl:
    level: int | None = None
    state: str | None = None
    schedule: tuple[tuple[int, int], ...] = DEFAULT_SCHEDULE
    parent: LightControl | None = field(default=None, repr=False)

    def scheduled_level(self, at: datetime) -> int:
        local = at.astimezone(ICT)
        minute = local.hour * 60 + local.minute
        steps = self.schedule
        level = steps[-1][1]  # before the first step: the last step of the previous day
        for at_minute, step_level in steps:
            if at_minute <= minute:
                level = step_level
        return level

    def output(self, at: datetime) -> tuple[int, int]:
        """(dim level commanded, output level 0-100 actually applied)."""
        for ctl in (self, self.parent):
            if ctl is None:
                continue
            if ctl.state == "off":
                return ctl.level if ctl.level is not None else 0, 0
            if ctl.state == "on":
                level = ctl.level if ctl.level is not None else 100
                return level, level
            if ctl.level is not None:
                return ctl.level, ctl.level if is_dark(at) else 0
        level = self.scheduled_level(at)
        return level, level if is_dark(at) else 0


def lamp_power_w(rated_w: float, level: int) -> float:
    """LED driver power at a dim level: not quite proportional (driver losses at low output)."""
    if level <= 0:
        return STANDBY_W
    return rated_w * (0.08 + 0.92 * level / 100)


class StreetLightSignal(Signal):
    def __init__(self, seed: str, *, rated_w: float, control: LightControl) -> None:
        super().__init__(seed)
        self.rated_w = rated_w
        self.control = control
        self.energy = self.rng.uniform(50, 3000)
        self.voltage = OrnsteinUhlenbeck(self.rng, sigma=2.5, tau_s=3600)
        self.last_power = 0.0

    def sample(self, at: datetime, world: World) -> dict[str, float]:
        dt = self._dt(at)
        commanded, out = self.control.output(at)
        power = lamp_power_w(self.rated_w, out) * (1 + self.rng.gauss(0, 0.01))
        # Energy since the last reading at the average of the two powers (the meter integrates).
        self.energy += (power + self.last_power) / 2 * dt / 3.6e6
        self.last_power = power
        voltage = 222 + self.voltage.step(dt)
        return {
            "state": 1.0 if out > 0 else 0.0,
            "dim_level": float(commanded),
            "power": round(power, 1),
            "energy": round(self.energy, 3),
            "voltage": round(voltage, 1),
            "current": round(power / (voltage * POWER_FACTOR), 3),
            "fault_code": 0.0,
        }


class CabinetSignal(Signal):
    """Totals over the cabinet's circuits: ``lights`` luminaires of ``rated_w`` each."""

    def __init__(self, seed: str, *, lights: int, rated_w: float, control: LightControl) -> None:
        super().__init__(seed)
        self.lights = lights
        self.rated_w = rated_w
        self.control = control
        self.energy = self.rng.uniform(1e3, 1e5)
        self.voltage = OrnsteinUhlenbeck(self.rng, sigma=2.0, tau_s=3600)
        self.last_kw = 0.0
        self.failed_lamps = 0  # set by lamp-failure incidents on its lights

    def sample(self, at: datetime, world: World) -> dict[str, float]:
        dt = self._dt(at)
        commanded, out = self.control.output(at)
        working = max(0, self.lights - self.failed_lamps)
        kw = (working * lamp_power_w(self.rated_w, out) * 1.04 + 15) / 1000  # + control gear
        kw *= 1 + self.rng.gauss(0, 0.005)
        self.energy += (kw + self.last_kw) / 2 * dt / 3600
        self.last_kw = kw
        voltage = 224 + self.voltage.step(dt)
        return {
            "state": 1.0 if out > 0 else 0.0,
            "dim_level": float(commanded),
            "power": round(kw, 3),
            "energy": round(self.energy, 2),
            "voltage": round(voltage, 1),
            "current": round(kw * 1000 / (voltage * POWER_FACTOR), 2),
            "door_open": 0.0,
            "fault_code": 0.0,
        }
