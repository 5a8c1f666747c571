"""Vehicle classes with realistic dimensions, speeds and car-following manners.

Dimensions are the body's footprint and height in metres (a motorbike includes its rider);
speeds are desired free-flow speeds on an urban arterial in Vietnam. Car-following uses the
Intelligent Driver Model, whose parameters (acceleration, comfortable braking, time headway,
standstill gap) differ per class: motorbikes accept short gaps, buses keep long ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

VehicleClass = Literal["motorbike", "car", "bus_truck", "bicycle"]
CLASSES: tuple[VehicleClass, ...] = ("motorbike", "car", "bus_truck", "bicycle")


@dataclass(frozen=True, slots=True)
class ClassSpec:
    length_m: tuple[float, float]  # uniform range
    width_m: tuple[float, float]
    height_m: tuple[float, float]
    speed_kmh: tuple[float, float]  # mean, standard deviation
    speed_limits_kmh: tuple[float, float]
    accel: float  # m/s2
    brake: float  # m/s2, comfortable
    headway_s: float
    gap_m: float


SPECS: dict[VehicleClass, ClassSpec] = {
    "motorbike": ClassSpec(
        (1.8, 1.95), (0.65, 0.75), (1.45, 1.65), (32, 5), (18, 48), 1.6, 2.5, 0.8, 1.0
    ),
    "car": ClassSpec((4.0, 4.9), (1.7, 1.85), (1.42, 1.65), (38, 6), (22, 55), 1.3, 2.5, 1.2, 2.0),
    "bus_truck": ClassSpec(
        (7.0, 12.0), (2.35, 2.5), (2.9, 3.4), (33, 5), (20, 48), 0.8, 2.0, 1.5, 2.5
    ),
    "bicycle": ClassSpec(
        (1.65, 1.8), (0.55, 0.65), (1.6, 1.75), (15, 2), (9, 22), 0.8, 2.0, 1.0, 1.0
    ),
}

# Share of each class in the flow: Hai Phong's arterials carry mostly motorbikes.
DEFAULT_MIX: dict[VehicleClass, float] = {
    "motorbike": 0.80,
    "car": 0.13,
    "bus_truck": 0.04,
    "bicycle": 0.03,
}


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One vehicle as scheduled: who it is, where it rides and when it wants to enter."""

    id: int
    cls: VehicleClass
    direction: Literal["in", "out"]
    x_m: float  # lateral centre
    length_m: float
    width_m: float
    height_m: float
    speed_ms: float  # desired speed
    arrival_s: float  # when it wants to enter (it may wait for room)
    sway_m: float = 0.0  # amplitude of slow lateral weaving (motorbikes)
    sway_period_s: float = 8.0
    sway_phase: float = 0.0
    body_rgb: tuple[int, int, int] = (200, 200, 200)
    accent_rgb: tuple[int, int, int] = (40, 40, 40)  # rider clothes, cabin glass, cargo
    helmet_rgb: tuple[int, int, int] = (230, 230, 230)
    variant: int = 0  # bus vs truck, scooter vs underbone: only changes the drawing
