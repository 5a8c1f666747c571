"""Incidents resolved for one run (devices picked, times fixed) and what they do to readings.

An incident changes only what its type says on only its devices, inside its window, so the
ground truth can say "this, there, then" and nothing else differs from the baseline.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from devices.profiles import load_profiles
from simulators.city import SimDevice
from simulators.scenario_models import DEFAULT_METRIC, EXPECT_KINDS, IncidentSpec
from simulators.signals.lighting import CabinetSignal, StreetLightSignal, lamp_power_w

# Metric changes a drift reaches by the end of its window when the file gives no magnitude:
# several times the metric's usual spread, so a robust z-score sees it well before the end.
DRIFT = {
    "o3": 120.0,
    "temperature": 12.0,
    "pressure": -1.6,
    "level": 90.0,
    "pm25": 60.0,
    "humidity": -35.0,
    "water_level": 150.0,
    "occupancy": 40.0,
}
SPIKE = {
    "temperature": 18.0,
    "pressure": 6.0,
    "level": 250.0,
    "battery_voltage": 9.0,
    "humidity": -40.0,
    "pm25": 400.0,
    "o3": 300.0,
    "water_level": -250.0,
}
# A spike lasts one reading at most this long: long enough to be published, short enough to
# be a spike rather than a step.
SPIKE_S = 60.0
RAMP_S = 1800.0  # pollution episode build-up and decay


class IncidentError(ValueError):
    """An incident the fleet cannot carry (names a device it does not have, or too many)."""


@dataclass
class Incident:
    id: str
    spec: IncidentSpec
    start: datetime
    end: datetime
    device_ids: list[str]
    metric: str | None
    frozen: dict[str, float] = field(default_factory=dict)
    spiked: set[str] = field(default_factory=set)
    base: float = 20.0  # the city's PM2.5 daily mean, which an episode adds multiples of

    @property
    def type(self) -> str:
        return self.spec.type

    def active(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def truth(self) -> dict[str, object]:
        return {
            "id": self.id,
            "type": self.type,
            "device_ids": list(self.device_ids),
            "metric": self.metric,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "expect_kinds": list(EXPECT_KINDS[self.type]),
        }

    def silences(self, device_id: str, at: datetime) -> bool:
        """True when the device must publish nothing (dropout, offline)."""
        return (
            self.type in ("dropout", "offline") and self.active(at) and device_id in self.device_ids
        )

    def apply(self, dev: SimDevice, at: datetime, metrics: dict[str, float]) -> None:
        if not self.active(at) or dev.id not in self.device_ids:
            return
        handler = _HANDLERS.get(self.type)
        if handler is not None:
            handler(self, dev, at, metrics)


def pick_devices(
    spec: IncidentSpec, fleet: list[SimDevice], used: set[str], rng: random.Random, where: str
) -> list[str]:
    """The devices an incident names, or ``count`` of its kind not used by another incident."""
    by_id = {d.id: d for d in fleet}
    if spec.devices:
        missing = [d for d in spec.devices if d not in by_id]
        if missing:
            raise IncidentError(f"{where}: devices not in the fleet: {', '.join(missing)}")
        wrong = [d for d in spec.devices if by_id[d].kind != spec.device_kind]
        if spec.kind and wrong:
            raise IncidentError(f"{where}: {', '.join(wrong)} are not {spec.kind} devices")
        return list(spec.devices)
    pool = [d.id for d in fleet if d.kind == spec.device_kind and d.id not in used]
    if spec.type == "day_burning" and spec.device_kind == "lighting_cabinet":
        pool = [d for d in pool if any(x.cabinet == d for x in fleet)] or pool
    if len(pool) < spec.count:
        raise IncidentError(
            f"{where}: needs {spec.count} {spec.device_kind} device(s) free of other incidents,"
            f" the fleet has {len(pool)}"
        )
    return sorted(rng.sample(pool, spec.count))


def metric_for(spec: IncidentSpec) -> str | None:
    if spec.metric:
        return spec.metric
    if spec.type in DEFAULT_METRIC:
        return DEFAULT_METRIC[spec.type][spec.device_kind]
    return {
        "pollution_episode": "pm25",
        "typhoon": "water_level",
        "pm_ratio": "pm10",
        "congestion": "occupancy",
        "lamp_failure": "power",
        "cable_theft": "power",
        "day_burning": "state",
    }.get(spec.type)


def check_metric(kind: str, metric: str, where: str) -> None:
    profile = load_profiles().get(kind)
    if profile is None or metric not in {m.name for m in profile.metrics}:
        raise IncidentError(f"{where}: {kind} has no metric {metric!r}")


def _bounds(kind: str, metric: str) -> tuple[float, float]:
    spec = next(m for m in load_profiles()[kind].metrics if m.name == metric)
    return float(spec.min), float(spec.max)


def _flatline(inc: Incident, dev: SimDevice, at: datetime, m: dict[str, float]) -> None:
    assert inc.metric is not None
    key = dev.id
    if key not in inc.frozen:
        inc.frozen[key] = m[inc.metric]
    m[inc.metric] = inc.frozen[key]


def _spike(inc: Incident, dev: SimDevice, at: datetime, m: dict[str, float]) -> None:
    assert inc.metric is not None
    if dev.id in inc.spiked:
        return
    inc.spiked.add(dev.id)
    lo, hi = _bounds(dev.kind, inc.metric)
    jump = (
        inc.spec.magnitude
        if inc.spec.magnitude is not None
        else SPIKE.get(inc.metric, (hi - lo) * 0.3)
    )
    m[inc.metric] = round(min(hi, max(lo, m[inc.metric] + jump)), 2)


def _out_of_range(inc: Incident, dev: SimDevice, at: datetime, m: dict[str, float]) -> None:
    assert inc.metric is not None
    lo, hi = _bounds(dev.kind, inc.metric)
    if inc.spec.magnitude is not None:
        m[inc.metric] = inc.spec.magnitude
    else:
        m[inc.metric] = round(hi + 0.5 * (hi - lo), 2)


def _drift(inc: Incident, dev: SimDevice, at: datetime, m: dict[str, float]) -> None:
    assert inc.metric is not None
    total = inc.spec.magnitude if inc.spec.magnitude is not None else DRIFT.get(inc.metric, 1.0)
    progress = (at - inc.start) / (inc.end - inc.start)
    lo, hi = _bounds(dev.kind, inc.metric)
    m[inc.metric] = round(min(hi, max(lo, m[inc.metric] + total * progress)), 2)


def _lamp_failure(inc: Incident, dev: SimDevice, at: datetime, m: dict[str, float]) -> None:
    m["fault_code"] = 1.0  # lamp open circuit: the driver sees no load
    m["power"] = 0.6
    m["current"] = round(0.6 / max(1.0, m["voltage"]), 3)


def _day_burning(inc: Incident, dev: SimDevice, at: datetime, m: dict[str, float]) -> None:
    m["state"] = 1.0
    m["dim_level"] = 100.0
    sig = dev.signal
    if isinstance(sig, StreetLightSignal):
        m["power"] = round(lamp_power_w(sig.rated_w, 100), 1)
        m["current"] = round(m["power"] / (m["voltage"] * 0.95), 3)
    elif isinstance(sig, CabinetSignal):
        m["power"] = round((sig.lights * lamp_power_w(sig.rated_w, 100) * 1.04 + 15) / 1000, 3)
        m["current"] = round(m["power"] * 1000 / (m["voltage"] * 0.95), 2)


def _cable_theft(inc: Incident, dev: SimDevice, at: datetime, m: dict[str, float]) -> None:
    # The contactors stay closed but the circuit is cut: only the cabinet's own gear draws.
    m["power"] = 0.015
    m["current"] = round(15 / (m["voltage"] * 0.95), 2)
    m["fault_code"] = 0.0


def _pollution(inc: Incident, dev: SimDevice, at: datetime, m: dict[str, float]) -> None:
    """Adds (magnitude - 1) x the city's daily mean, so every station of the episode, clean
    rural ones too, crosses the 24-hour limits the truth promises."""
    factor = inc.spec.magnitude if inc.spec.magnitude is not None else 6.0
    since = (at - inc.start).total_seconds()
    until = (inc.end - at).total_seconds()
    ramp = math.sin(math.pi / 2 * min(1.0, since / RAMP_S, until / RAMP_S)) ** 2
    extra = (factor - 1) * inc.base * ramp
    m["pm25"] = round(m["pm25"] + extra, 1)
    m["pm10"] = round(m["pm10"] + extra * 1.3, 1)
    m["no2"] = round(m["no2"] * (1 + 0.3 * ramp), 1)
    m["co"] = round(m["co"] * (1 + 0.4 * ramp))


def _congestion(inc: Incident, dev: SimDevice, at: datetime, m: dict[str, float]) -> None:
    rng = dev.signal.rng
    for key in [k for k in m if k.startswith("count_")]:
        m[key] = float(round(m[key] * 0.35))
    m["occupancy"] = round(rng.uniform(85, 96), 1)
    m["mean_speed"] = round(rng.uniform(3, 8), 1)
    m["queue_length"] = float(round(rng.uniform(250, 600)))


def _pm_ratio(inc: Incident, dev: SimDevice, at: datetime, m: dict[str, float]) -> None:
    m["pm10"] = round(m["pm25"] * 0.6, 1)  # a PM10 head that lost its inlet: reads less than PM2.5


_HANDLERS = {
    "flatline": _flatline,
    "spike": _spike,
    "out_of_range": _out_of_range,
    "drift": _drift,
    "lamp_failure": _lamp_failure,
    "day_burning": _day_burning,
    "cable_theft": _cable_theft,
    "pollution_episode": _pollution,
    "congestion": _congestion,
    "pm_ratio": _pm_ratio,
}


def spike_window(start: datetime) -> datetime:
    return start + timedelta(seconds=SPIKE_S)
