"""The road: directions, lanes, counting lines, ROI and zones, all in ground metres.

Vietnam drives on the right, so with the camera looking along +Y the traffic coming toward it
("in") uses the left half of the road (X < 0) and the traffic going away ("out") the right half.
Counting lines are per lane and cover each direction's width without gaps, so every vehicle
crosses exactly one line of its direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["in", "out"]

# Ground offset (m) of a shadow per metre of height: an afternoon sun behind the camera's left
# shoulder casts shadows mostly sideways (+X) and a little away from the camera, so a shadow
# widens a vehicle's blob without moving its bottom edge, the counted point.
SUN_SHADOW_PER_M = (0.76, 0.24)


@dataclass(frozen=True, slots=True)
class Lane:
    name: str
    direction: Direction
    x_min: float
    x_max: float

    @property
    def centre(self) -> float:
        return (self.x_min + self.x_max) / 2.0


@dataclass(frozen=True, slots=True)
class RoadLayout:
    """Two directions with ``lanes_per_direction`` lanes each, split by a painted median.

    ``line_y_m`` is where the counting lines sit: near enough for vehicles to be large and seen
    almost from above, far enough from the bottom edge that a vehicle entering from below
    (outbound) is whole in view before its rear crosses.
    """

    lane_width_m: float = 3.5
    lanes_per_direction: int = 2
    median_m: float = 0.5
    sidewalk_m: float = 3.8
    line_y_m: float = 16.0
    roi_near_m: float = 10.0
    roi_far_m: float = 62.0
    zone_near_m: float = 12.0
    zone_far_m: float = 40.0
    spawn_far_m: float = 82.0  # inbound vehicles appear here, beyond the visible end
    spawn_near_m: float = 2.0  # outbound vehicles appear here, under the camera
    lanes: tuple[Lane, ...] = field(init=False)

    def __post_init__(self) -> None:
        half = self.median_m / 2.0
        lanes: list[Lane] = []
        for i in range(self.lanes_per_direction):
            # Lane 1 is the inner (median-side, faster) lane of each direction.
            inner = half + i * self.lane_width_m
            outer = inner + self.lane_width_m
            lanes.append(Lane(f"in-{i + 1}", "in", -outer, -inner))
            lanes.append(Lane(f"out-{i + 1}", "out", inner, outer))
        object.__setattr__(self, "lanes", tuple(sorted(lanes, key=lambda lane: lane.name)))

    @property
    def carriageway_half_m(self) -> float:
        return self.median_m / 2.0 + self.lanes_per_direction * self.lane_width_m

    def direction_span(self, direction: Direction) -> tuple[float, float]:
        """Lateral range (x_min, x_max) of one direction's lanes."""
        lanes = [lane for lane in self.lanes if lane.direction == direction]
        return min(lane.x_min for lane in lanes), max(lane.x_max for lane in lanes)

    def lane_at(self, direction: Direction, x: float) -> Lane:
        """The lane of ``direction`` whose line segment holds lateral position ``x``."""
        lanes = sorted(
            (lane for lane in self.lanes if lane.direction == direction), key=lambda la: la.x_min
        )
        for lane in lanes:
            if x <= lane.x_max:
                return lane
        return lanes[-1]
