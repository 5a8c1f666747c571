"""Ground truth by construction: which vehicle crossed which counting line, when, which way.

A crossing is the first frame at which a vehicle's ground-contact point (the centre of its
footprint edge nearest the camera: the bottom centre of its image) lies on or past a line
segment, having been before it on the previous frame. The test is done on the ground plane;
the image is a projective map of it, so the same crossings hold for the image segments.
The direction follows contract C1: "in" when the image motion has a positive dot product with
the line's ``in_direction``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulators.video.camera import CameraModel
from simulators.video.scene import Direction, RoadLayout
from simulators.video.traffic import FrameState
from simulators.video.vehicles import CLASSES, Vehicle

TRUTH_FORMAT = "ioc-traffic-truth/1"


@dataclass(frozen=True, slots=True)
class CountingLine:
    """A counting line on the ground and its image form (unshaken source-frame pixels)."""

    name: str
    direction: Direction  # which traffic it is meant for (informative)
    ground_a: tuple[float, float]
    ground_b: tuple[float, float]
    a: tuple[float, float]
    b: tuple[float, float]
    in_direction: tuple[float, float]

    def as_contract(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "a": [round(self.a[0], 1), round(self.a[1], 1)],
            "b": [round(self.b[0], 1), round(self.b[1], 1)],
            "in_direction": [round(self.in_direction[0], 4), round(self.in_direction[1], 4)],
        }


def counting_lines(layout: RoadLayout, camera: CameraModel) -> list[CountingLine]:
    """One line per lane at ``layout.line_y_m``; "in" points toward the camera (down-screen)."""
    lines: list[CountingLine] = []
    y = layout.line_y_m
    for lane in layout.lanes:
        ga, gb = (lane.x_min, y), (lane.x_max, y)
        a, b = camera.project_ground(np.array([ga, gb]))
        mid = ((lane.x_min + lane.x_max) / 2.0, y)
        toward = camera.project_ground(np.array([mid, (mid[0], y - 1.0)]))
        d = toward[1] - toward[0]
        d = d / np.linalg.norm(d)
        lines.append(
            CountingLine(
                lane.name,
                lane.direction,
                ga,
                gb,
                (float(a[0]), float(a[1])),
                (float(b[0]), float(b[1])),
                (float(d[0]), float(d[1])),
            )
        )
    return lines


@dataclass(frozen=True, slots=True)
class Crossing:
    time_s: float
    frame: int
    line: str
    direction: Direction
    cls: str
    vehicle: int

    def as_contract(self) -> dict[str, Any]:
        return {
            "time_s": round(self.time_s, 3),
            "frame": self.frame,
            "line": self.line,
            "direction": self.direction,
            "class": self.cls,
            "vehicle": self.vehicle,
        }


def _cross(
    p0: tuple[float, float],
    p1: tuple[float, float],
    a: tuple[float, float],
    b: tuple[float, float],
) -> bool:
    """Whether the step p0 -> p1 reaches segment a-b (p1 on the line counts; p0 on it does not)."""

    def side(p: tuple[float, float]) -> float:
        return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])

    s0, s1 = side(p0), side(p1)
    if s0 == 0.0 or ((s0 > 0) == (s1 > 0) and s1 != 0.0):
        return False
    # Where the step meets the line, as a fraction along the segment.
    u = s0 / (s0 - s1)
    px, py = p0[0] + u * (p1[0] - p0[0]), p0[1] + u * (p1[1] - p0[1])
    ab = (b[0] - a[0], b[1] - a[1])
    along = ((px - a[0]) * ab[0] + (py - a[1]) * ab[1]) / (ab[0] ** 2 + ab[1] ** 2)
    return 0.0 <= along <= 1.0


class CrossingRecorder:
    """Watches consecutive frame states and records every crossing from frame 1 on."""

    def __init__(
        self, vehicles: Sequence[Vehicle], lines: Sequence[CountingLine], camera: CameraModel
    ) -> None:
        self.vehicles = vehicles
        self.lines = list(lines)
        self.camera = camera
        self.crossings: list[Crossing] = []
        self._last: dict[int, tuple[float, float]] = {}
        self._last_frame = -(10**9)

    def observe(self, state: FrameState, fps: float) -> None:
        current = {
            int(i): (float(x), float(y))
            for i, x, y in zip(state.index, state.x, state.y_near, strict=True)
        }
        if state.frame >= 1 and self._last_frame == state.frame - 1:
            for i, p1 in current.items():
                p0 = self._last.get(i)
                if p0 is None or p0 == p1:
                    continue
                for line in self.lines:
                    if _cross(p0, p1, line.ground_a, line.ground_b):
                        self.crossings.append(self._crossing(i, p0, p1, line, state, fps))
        self._last = current
        self._last_frame = state.frame

    def _crossing(
        self,
        i: int,
        p0: tuple[float, float],
        p1: tuple[float, float],
        line: CountingLine,
        state: FrameState,
        fps: float,
    ) -> Crossing:
        img = self.camera.project_ground(np.array([p0, p1]))
        motion = img[1] - img[0]
        dot = motion[0] * line.in_direction[0] + motion[1] * line.in_direction[1]
        direction: Direction = "in" if dot > 0 else "out"
        return Crossing(
            state.frame / fps, state.frame, line.name, direction, self.vehicles[i].cls, i
        )


def totals(crossings: Sequence[Crossing]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {d: dict.fromkeys(CLASSES, 0) for d in ("in", "out")}
    for c in crossings:
        out[c.direction][c.cls] += 1
    return out
