"""Who arrives when: a seeded timetable of vehicles for both directions.

Arrivals are a Poisson process whose rate swings with an upstream traffic signal (platoons on
green, a trickle on red) and a slower wave, as on a real urban arterial; the class mix,
dimensions, desired speeds, lateral positions and colours are drawn from the same
``numpy.random.Generator`` so a seed fixes everything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from simulators.video.scene import Direction, RoadLayout
from simulators.video.vehicles import CLASSES, DEFAULT_MIX, SPECS, Vehicle, VehicleClass

CAR_COLOURS = [
    (235, 235, 235),
    (190, 192, 196),
    (30, 30, 32),
    (110, 112, 118),
    (160, 30, 30),
    (30, 60, 140),
    (200, 200, 190),
    (90, 60, 40),
]
BUS_COLOURS = [(230, 190, 40), (40, 140, 80), (235, 235, 235), (40, 90, 170), (200, 60, 40)]
BIKE_COLOURS = [
    (25, 25, 25),
    (180, 30, 30),
    (30, 50, 150),
    (200, 200, 205),
    (60, 60, 60),
    (230, 230, 230),
    (120, 20, 120),
]
RIDER_COLOURS = [
    (40, 60, 120),
    (220, 220, 220),
    (30, 30, 30),
    (160, 40, 40),
    (60, 110, 60),
    (200, 160, 60),
    (120, 90, 160),
    (90, 140, 200),
    (210, 120, 150),
]
HELMET_COLOURS = [
    (240, 240, 240),
    (20, 20, 20),
    (200, 30, 30),
    (240, 200, 30),
    (40, 90, 200),
    (230, 120, 170),
]


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """How busy the road is: vehicles per minute per direction, on average."""

    per_min: float = 42.0
    signal_cycle_s: float = 75.0
    green_share: float = 0.55
    platoon_gain: float = 1.5  # arrival rate on green relative to the mean (red gets the rest)
    mix: Mapping[VehicleClass, float] | None = None


def _lateral(
    rng: np.random.Generator,
    layout: RoadLayout,
    direction: Direction,
    cls: VehicleClass,
    width: float,
) -> float:
    """Where across its half of the road a vehicle rides (its lateral centre)."""
    lo, hi = layout.direction_span(direction)
    inner_to_outer = 1.0 if direction == "out" else -1.0
    inner = lo if direction == "out" else hi  # median side
    lw = layout.lane_width_m
    if cls in ("car", "bus_truck"):
        lane = 0 if rng.random() < (0.7 if cls == "car" else 0.6) else 1
        lane = min(lane, layout.lanes_per_direction - 1)
        offset = (lane + 0.5) * lw + rng.normal(0.0, 0.25)
    elif cls == "bicycle":
        offset = layout.lanes_per_direction * lw - rng.uniform(0.6, 1.4)
    else:
        # Motorbikes fill the whole width, a little more toward the curb side.
        offset = (hi - lo) * float(rng.beta(1.6, 1.2))
    x = inner + inner_to_outer * offset
    margin = width / 2.0 + 0.25
    return float(np.clip(x, lo + margin, hi - margin))


def _rate_factor(t: float, flow: FlowSpec, phase: float, wave_phase: float) -> float:
    cycle = (t / flow.signal_cycle_s + phase) % 1.0
    green = cycle < flow.green_share
    red_gain = (1.0 - flow.platoon_gain * flow.green_share) / (1.0 - flow.green_share)
    base = flow.platoon_gain if green else max(red_gain, 0.1)
    return base * (1.0 + 0.25 * math.sin(2 * math.pi * t / 240.0 + wave_phase))


def schedule_vehicles(
    rng: np.random.Generator,
    layout: RoadLayout,
    *,
    start_s: float,
    end_s: float,
    flow: FlowSpec,
    rain_at: tuple[tuple[float, float], ...] = (),
) -> list[Vehicle]:
    """Vehicles with arrival times in ``[start_s, end_s)``, both directions, sorted by arrival.

    ``rain_at`` lists rain periods: riders arriving then wear ponchos (drawn bigger and bright).
    """
    mix = dict(flow.mix or DEFAULT_MIX)
    classes = list(CLASSES)
    weights = np.array([mix.get(c, 0.0) for c in classes], dtype=float)
    weights /= weights.sum()
    rate = flow.per_min / 60.0
    peak = rate * flow.platoon_gain * 1.25
    drafts: list[tuple[float, Direction]] = []
    for direction in ("in", "out") if rate > 0 else ():
        phase, wave_phase = float(rng.random()), float(rng.uniform(0, 2 * math.pi))
        t = start_s
        while True:
            t += float(rng.exponential(1.0 / peak))
            if t >= end_s:
                break
            if rng.random() * peak <= rate * _rate_factor(t, flow, phase, wave_phase):
                drafts.append((t, direction))
    drafts.sort()
    vehicles: list[Vehicle] = []
    for i, (t, direction) in enumerate(drafts):
        cls: VehicleClass = classes[int(rng.choice(len(classes), p=weights))]
        spec = SPECS[cls]
        length = float(rng.uniform(*spec.length_m))
        width = float(rng.uniform(*spec.width_m))
        height = float(rng.uniform(*spec.height_m))
        kmh = float(np.clip(rng.normal(*spec.speed_kmh), *spec.speed_limits_kmh))
        raining = any(a <= t < b for a, b in rain_at)
        variant = int(rng.integers(0, 2))
        if cls == "bus_truck":
            body = BUS_COLOURS[int(rng.integers(len(BUS_COLOURS)))]
            if variant == 1:  # a truck: shorter, taller cargo box
                length = min(length, 9.0)
        elif cls == "car":
            body = CAR_COLOURS[int(rng.integers(len(CAR_COLOURS)))]
        else:
            body = BIKE_COLOURS[int(rng.integers(len(BIKE_COLOURS)))]
        if raining and cls in ("motorbike", "bicycle"):
            accent = ((40, 90, 200), (230, 200, 30), (200, 40, 60), (60, 160, 80))[
                int(rng.integers(4))
            ]
        else:
            accent = RIDER_COLOURS[int(rng.integers(len(RIDER_COLOURS)))]
        two_wheeler = cls in ("motorbike", "bicycle")
        vehicles.append(
            Vehicle(
                id=i,
                cls=cls,
                direction=direction,
                x_m=_lateral(rng, layout, direction, cls, width),
                length_m=length,
                width_m=width,
                height_m=height,
                speed_ms=kmh / 3.6,
                arrival_s=t,
                sway_m=float(rng.uniform(0.05, 0.3)) if two_wheeler else 0.0,
                sway_period_s=float(rng.uniform(5.0, 12.0)),
                sway_phase=float(rng.uniform(0, 2 * math.pi)),
                body_rgb=body,
                accent_rgb=accent,
                helmet_rgb=HELMET_COLOURS[int(rng.integers(len(HELMET_COLOURS)))],
                variant=variant,
            )
        )
    return vehicles
