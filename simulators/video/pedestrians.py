"""People walking on the sidewalks: moving things the edge node must ignore (outside the ROI).

Each walks at a steady pace along one sidewalk and wraps around at the ends of the visible
street; drawn as legs, torso and head boxes through the same camera as the vehicles.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from simulators.video.scene import RoadLayout

Y_RANGE = (6.0, 70.0)
SHIRTS = [
    (200, 200, 200),
    (40, 60, 140),
    (180, 60, 60),
    (60, 130, 70),
    (220, 180, 60),
    (120, 80, 150),
    (30, 30, 30),
]


@dataclass(frozen=True, slots=True)
class Walker:
    x_m: float
    y0_m: float
    speed_ms: float  # signed: + away from the camera
    shirt_bgr: tuple[int, int, int]
    height_m: float


def plan_walkers(rng: np.random.Generator, layout: RoadLayout, count: int = 14) -> list[Walker]:
    half, walk = layout.carriageway_half_m, layout.sidewalk_m
    walkers = []
    for _ in range(count):
        sign = 1 if rng.random() < 0.5 else -1
        x = sign * (half + float(rng.uniform(0.8, walk - 0.6)))
        shirt = SHIRTS[int(rng.integers(len(SHIRTS)))]
        walkers.append(
            Walker(
                x_m=x,
                y0_m=float(rng.uniform(*Y_RANGE)),
                speed_ms=float(rng.choice([-1.0, 1.0]) * rng.uniform(0.9, 1.5)),
                shirt_bgr=shirt,
                height_m=float(rng.uniform(1.55, 1.75)),
            )
        )
    return walkers


def draw_walkers(
    frame: NDArray[np.uint8],
    walkers: list[Walker],
    t: float,
    proj: NDArray[np.float64],
    brightness: float,
) -> None:
    """Far to near, each as three boxes (legs, torso, head)."""
    span = Y_RANGE[1] - Y_RANGE[0]
    ys = [Y_RANGE[0] + (w.y0_m + w.speed_ms * t - Y_RANGE[0]) % span for w in walkers]
    for w, y in sorted(zip(walkers, ys, strict=True), key=lambda p: -p[1]):
        h = w.height_m
        boxes = (
            (0.14, 0.0, 0.8, (50, 45, 40)),
            (0.2, 0.8, h - 0.25, w.shirt_bgr),
            (0.1, h - 0.25, h, (60, 90, 130)),
        )
        for half_w, z0, z1, col in boxes:
            corners = np.array(
                [
                    [w.x_m + dx, y + dy, z, 1.0]
                    for z in (z0, z1)
                    for dy in (-0.12, 0.12)
                    for dx in (-half_w, half_w)
                ]
            )
            hom = corners @ proj.T
            pts = np.round(hom[:, :2] / np.maximum(hom[:, 2:3], 1e-3)).astype(np.int32)
            shade = tuple(int(c * brightness) for c in col)
            cv2.fillConvexPoly(frame, cv2.convexHull(pts), shade, cv2.LINE_AA)
