"""Scenarios: load a YAML file, run it over the real MQTT contract, write its ground truth.

Contract C3 (TEAM.md): ``load_scenario(name_or_path)``, ``run_scenario(settings, scenario, *,
speed, seed, stop, truth_path) -> Truth``. Simulated time starts at ``now - duration`` and runs
at ``speed`` x, so the last readings are near now and every reading is inside ingest's 7-day
window. The truth lists each injected incident with the devices, metric, window and the alert
kinds it must raise; the evaluation scenarios' baselines stay inside the default threshold
rules, so any other alert is a false positive.
"""

from __future__ import annotations

import json
import math
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ioc_core.errors import IocError
from ioc_core.settings import Settings
from simulators.city import SimDevice, build_fleet, city_counts
from simulators.durations import resolve_anchor
from simulators.engine import Engine, RunStats
from simulators.incidents import Incident, IncidentError, check_metric, metric_for, pick_devices
from simulators.scenario_models import ScenarioSpec
from simulators.strict_yaml import StrictYamlError, error_lines, load_yaml
from simulators.weather import Storm, Weather
from simulators.world import AirOptions, World

__all__ = [
    "BUNDLED",
    "Scenario",
    "ScenarioError",
    "Truth",
    "build_fleet",
    "bundled_scenarios",
    "city_counts",
    "load_scenario",
    "prepare",
    "run_scenario",
]

BUNDLED = Path(__file__).resolve().parent / "scenario_data"
TRUTH_FORMAT = "ioc-scenario-truth/1"


class ScenarioError(IocError):
    """A scenario file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Scenario:
    spec: ScenarioSpec
    path: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def duration_s(self) -> float:
        return self.spec.duration


@dataclass
class Truth:
    scenario: str
    seed: int
    start: datetime
    end: datetime
    tenants: list[str]
    devices: int
    incidents: list[dict[str, Any]] = field(default_factory=list)
    stats: RunStats | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "format": TRUTH_FORMAT,
            "scenario": self.scenario,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "tenants": self.tenants,
            "devices": self.devices,
            "incidents": self.incidents,
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(
            json.dumps(self.as_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        tmp.replace(path)


def bundled_scenarios() -> list[str]:
    return sorted(p.stem for p in BUNDLED.glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A bundled scenario by name (``standard``) or a YAML file by path."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = BUNDLED / f"{name_or_path}.yaml"
        if not path.exists():
            known = ", ".join(bundled_scenarios())
            raise ScenarioError(f"no bundled scenario {str(name_or_path)!r}; bundled: {known}")
    if not path.is_file():
        raise ScenarioError(f"{path}: no such scenario file")
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except StrictYamlError as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping at the top level")
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: " + "; ".join(error_lines(exc))) from exc
    return Scenario(spec, path)


@dataclass
class Prepared:
    """A scenario made concrete for one run: fleet, world, incidents with times and devices."""

    scenario: Scenario
    seed: int
    start: datetime
    end: datetime
    fleet: list[SimDevice]
    world: World
    incidents: list[Incident]

    def truth(self) -> Truth:
        return Truth(
            scenario=self.scenario.name,
            seed=self.seed,
            start=self.start,
            end=self.end,
            tenants=sorted({d.device.tenant_id for d in self.fleet}),
            devices=len(self.fleet),
            incidents=[i.truth() for i in self.incidents if i.device_ids],
        )


def prepare(
    scenario: Scenario, *, seed: int, end: datetime | None = None,
    start: datetime | None = None, devices: int | None = None,
) -> Prepared:  # fmt: skip
    """Fix the fleet, the times and the incidents' devices; deterministic for (scenario, seed,
    start). ``end`` defaults to now, so the run starts at ``end - duration`` (C3). ``devices``
    replaces the scenario's fleet by a city-composed one of that size (``ioc simulate
    --devices``); the incidents then pick their devices from it."""
    spec = scenario.spec
    if start is None:
        end = (end or datetime.now(UTC)).replace(microsecond=0)
        start = end - timedelta(seconds=spec.duration)
    else:
        end = start + timedelta(seconds=spec.duration)
    if devices is not None:
        counts = city_counts(devices)
    elif spec.fleet.counts is not None:
        counts = spec.fleet.counts
    else:
        counts = city_counts(spec.fleet.devices or 0)
    try:
        fleet = build_fleet(counts, seed=seed)
    except ValueError as exc:
        raise ScenarioError(f"{scenario.path}: fleet: {exc}") from exc
    apply_intervals(fleet, spec.fleet.intervals)
    rng = random.Random(f"incidents-{seed}")
    incidents: list[Incident] = []
    storms: list[Storm] = []
    used: set[str] = set()
    intervals = {d.id: d.interval_s for d in fleet}
    for n, inc_spec in enumerate(spec.incidents):
        where = f"{scenario.path}: incidents[{n}] ({inc_spec.type})"
        try:
            at = resolve_anchor(inc_spec.at, start)
        except ValueError as exc:
            raise ScenarioError(f"{where}: at: {exc}") from exc
        until = at + timedelta(seconds=inc_spec.for_)
        if at < start or until > end:
            raise ScenarioError(
                f"{where}: runs {at.isoformat()} .. {until.isoformat()}, outside the scenario's"
                f" {start.isoformat()} .. {end.isoformat()}"
            )
        metric = metric_for(inc_spec)
        try:
            if metric is not None:
                check_metric(inc_spec.device_kind, metric, where)
            if inc_spec.type == "typhoon":
                storms.append(
                    Storm(
                        at.timestamp(),
                        until.timestamp(),
                        peak_rain_mm_h=inc_spec.rain_mm_h,
                        peak_wind_m_s=inc_spec.wind_m_s,
                        surge_cm=inc_spec.surge_cm,
                    )
                )
                device_ids: list[str] = []
            else:
                device_ids = pick_devices(inc_spec, fleet, used, rng, where)
        except IncidentError as exc:
            raise ScenarioError(str(exc)) from exc
        if inc_spec.type == "day_burning":
            cabinets = set(device_ids)
            device_ids += [d.id for d in fleet if d.cabinet in cabinets and d.id not in used]
        shortest = max((intervals[d] for d in device_ids), default=0.0)
        if inc_spec.for_ < shortest:
            raise ScenarioError(
                f"{where}: for {inc_spec.for_:g} s is shorter than the devices'"
                f" reporting interval ({shortest:g} s); no reading would show it"
            )
        used.update(device_ids)
        incidents.append(Incident(f"inc-{n + 1:03d}", inc_spec, at, until, device_ids, metric))
    weather = Weather(
        seed=seed,
        start=start,
        end=end,
        rain=spec.weather.rain,
        rain_scale=spec.weather.rain_scale,
        storms=tuple(storms),
    )
    air = AirOptions(spec.air.pm25_mean, spec.air.pm25_cap, spec.air.inversions)
    world = World(seed=seed, weather=weather, air=air)
    for inc in incidents:
        if inc.type == "typhoon":
            _typhoon_truth(inc, fleet, world, end)
        inc.base = world.pm_level(inc.start)
    return Prepared(scenario, seed, start, end, fleet, world, incidents)


def apply_intervals(fleet: list[SimDevice], intervals: dict[str, float]) -> None:
    for dev in fleet:
        if dev.kind in intervals:
            dev.interval_s = intervals[dev.kind]


def _typhoon_truth(inc: Incident, fleet: list[SimDevice], world: World, end: datetime) -> None:
    """The gauges the storm drives past their alert level, found by running their noise-free
    level through the scenario; the incident lasts until the last of them falls back."""
    last_above = inc.start
    for dev in fleet:
        if dev.gauge is None or dev.device.levels is None or dev.device.levels.alert_level is None:
            continue
        alert = dev.device.levels.alert_level
        t = inc.start.timestamp()
        crossed = False
        while t <= end.timestamp():
            level = dev.gauge.level(t, world)
            if level >= alert:
                crossed = True
                last_above = max(last_above, datetime.fromtimestamp(t, UTC))
            t += 300
        if crossed:
            inc.device_ids.append(dev.id)
    inc.end = max(inc.end, min(end, last_above + timedelta(minutes=5)))


def run_scenario(
    settings: Settings,
    scenario: Scenario,
    *,
    speed: float,
    seed: int,
    stop: threading.Event | None = None,
    truth_path: Path | None = None,
    progress: bool = False,
    connect_timeout: float | None = None,
) -> Truth:
    """Register the fleet, publish the scenario from ``now - duration`` at ``speed`` x, write
    the truth (also when stopped early: the incidents were scheduled all the same).

    ``connect_timeout`` as ``Engine``'s (default 60 s + 0.2 s per link), then
    ``BrokerUnreachableError``; optional, so contract C3's call is unchanged."""
    from simulators.registration import register_fleet

    if not math.isfinite(speed) or speed <= 0:
        raise ScenarioError(f"speed must be a positive number, not {speed}")
    prepared = prepare(scenario, seed=seed)
    truth = prepared.truth()
    if truth_path is not None:
        truth.write(truth_path)
    logins = register_fleet(settings, prepared.fleet)
    engine = Engine(
        settings,
        prepared.fleet,
        prepared.world,
        sim_start=prepared.start,
        speed=speed,
        sim_end=prepared.end,
        incidents=prepared.incidents,
        logins=logins,
        stop=stop,
        progress=progress,
        seed=seed,
        connect_timeout=connect_timeout,
        # No "offline" goodbye at the end: a scenario's devices just stop, so the end of a
        # run does not look like a city-wide outage to the alert engine.
        goodbye=False,
    )
    truth.stats = engine.run()
    if truth_path is not None:
        truth.write(truth_path)
    return truth
