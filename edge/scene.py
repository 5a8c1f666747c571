"""A drawn overhead road with rectangles for vehicles, crossings known by construction.

For ``ioc bench edge`` (frames of a given size without shipping a video) and for the tests (a
clip with a known number of crossings per class and direction). Deliberately plain: the
realistic scene with perspective, shadows and weather is the simulators' video generator; this
one exists so the edge package can measure and test itself without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.images import Image

Frame = Image

# Ground size (width m, length m) and speed range (km/h) per class.
_SIZES = {
    "motorbike": (0.8, 2.0, 25.0, 45.0),
    "car": (1.8, 4.5, 25.0, 50.0),
    "bus_truck": (2.5, 11.0, 20.0, 40.0),
    "bicycle": (0.7, 1.8, 9.0, 13.0),
}
_MIX = (("motorbike", 0.7), ("car", 0.18), ("bus_truck", 0.06), ("bicycle", 0.06))
# Road width on the ground; the frame width spans it.
_ROAD_M = 32.0


@dataclass(slots=True)
class _Vehicle:
    cls: str
    lane: int
    direction: str  # "in" = moving down the frame
    x_m: float  # lane centre (m from the left edge)
    y_m: float  # front position along the road (m from the top)
    speed_ms: float
    colour: tuple[int, int, int]
    crossed: bool = False


@dataclass(slots=True)
class Scene:
    width: int = 1280
    height: int = 720
    fps: float = 25.0
    seed: int = 1
    rate_per_min: float = 60.0  # vehicles entering per minute, both directions together
    crossings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def m_per_px(self) -> float:
        return _ROAD_M / self.width

    @property
    def line_y_px(self) -> float:
        return self.height * 0.55

    def config(self, video: Path) -> dict[str, Any]:
        """camera.yaml (contract C1) for this scene."""
        w, h = self.width, self.height
        mpp = self.m_per_px
        return {
            "camera": {"id": "cam-scene-0001", "tenant": "sxd"},
            "source": {"kind": "file", "path": str(video), "loop": False, "realtime": False},
            # The drawn clip has no shake; with nothing to undo, stabilisation could only add
            # error (the bench turns it on to count its cost).
            "processing": {"width": min(640, w), "stabilise": False},
            "roi": [[0, 0], [w, 0], [w, h], [0, h]],
            "lines": [
                {
                    "name": "road",
                    "a": [0, self.line_y_px],
                    "b": [w, self.line_y_px],
                    "in_direction": [0, 1],
                },
            ],
            "zones": [{"name": "approach", "polygon": [[0, 0], [w, 0], [w, h / 2], [0, h / 2]]}],
            "calibration": {
                "image": [[0, 0], [w, 0], [w, h], [0, h]],
                "ground": [[0, 0], [w * mpp, 0], [w * mpp, h * mpp], [0, h * mpp]],
            },
            "intervals_s": [15, 60],
            # Seen from straight above, apparent lengths are true lengths (no height added):
            # an 11 m bus is a bus here.
            "classification": {"bus_truck_min_length_m": 7.0},
        }

    def frames(self, seconds: float) -> Iterator[Frame]:
        rng = np.random.default_rng(self.seed)
        mpp = self.m_per_px
        h_m = self.height * mpp
        background = self._background(rng)
        mid = _ROAD_M / 2
        lanes_in = [mid - 4.5, mid - 1.5]  # lane centres (m) of the "in" side
        lanes_out = [mid + 1.5, mid + 4.5]
        vehicles: list[_Vehicle] = []
        n = round(seconds * self.fps)
        spawn_p = self.rate_per_min / 60.0 / self.fps
        classes = [c for c, _ in _MIX]
        weights = np.array([p for _, p in _MIX])
        line_m = self.line_y_px * mpp
        noise = [rng.integers(0, 5, (self.height, self.width, 3), dtype=np.uint8) for _ in range(7)]
        for i in range(n):
            t = i / self.fps
            if rng.random() < spawn_p:
                cls = str(rng.choice(classes, p=weights))
                w_m, l_m, vmin, vmax = _SIZES[cls]
                direction = "in" if rng.random() < 0.5 else "out"
                lane = int(rng.integers(0, 2))
                x = (lanes_in if direction == "in" else lanes_out)[lane]
                y = -l_m if direction == "in" else h_m + l_m
                speed = float(rng.uniform(vmin, vmax)) / 3.6
                if self._free(vehicles, direction, lane, y, l_m):
                    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
                    if max(colour) - min(colour) < 60 and max(colour) < 160:
                        # Grey like the asphalt, or a darker grey that a shadow detector would
                        # rightly take for a shadow: paint it white instead.
                        colour = (230, 230, 235)
                    vehicles.append(_Vehicle(cls, lane, direction, x, y, speed, colour))  # type: ignore[arg-type]
            frame = background.copy()
            alive = []
            self._follow(vehicles)
            for v in vehicles:
                step = v.speed_ms / self.fps
                v.y_m += step if v.direction == "in" else -step
                w_m, l_m, _, _ = _SIZES[v.cls]
                # y_m is the front; the crossing point is the box's bottom edge (contract C2).
                top = v.y_m - l_m if v.direction == "in" else v.y_m
                bottom = top + l_m
                if not v.crossed and (
                    (v.direction == "in" and bottom >= line_m)
                    or (v.direction == "out" and bottom <= line_m)
                ):
                    v.crossed = True
                    self.crossings.append(
                        {"time_s": round(t, 3), "frame": i, "line": "road",
                         "direction": v.direction, "class": v.cls}
                    )  # fmt: skip
                x0 = round((v.x_m - w_m / 2) / mpp)
                x1 = round((v.x_m + w_m / 2) / mpp)
                y0, y1 = round(top / mpp), round(bottom / mpp)
                cv2.rectangle(frame, (x0, y0), (x1, y1), v.colour, -1)
                if -l_m * 2 < v.y_m < h_m + l_m * 2:
                    alive.append(v)
            vehicles = alive
            # Sensor noise: a few pre-drawn fields, cycled (drawing one per frame costs more
            # than the pipeline does).
            yield cv2.add(frame, noise[i % len(noise)])

    def _background(self, rng: np.random.Generator) -> Frame:
        bg = np.full((self.height, self.width, 3), 105, dtype=np.uint8)
        texture: Image = rng.normal(0, 6, (self.height // 8, self.width // 8)).astype(np.float32)
        texture = cv2.resize(texture, (self.width, self.height))
        bg = np.clip(bg.astype(np.float32) + texture[..., None], 0, 255).astype(np.uint8)
        mid = self.width // 2
        cv2.line(bg, (mid, 0), (mid, self.height), (200, 200, 200), max(2, self.width // 300))
        # Roadside blocks (kerbs, parked things, facades) outside the lanes: static texture, as
        # a real view has, for the shake compensation to lock onto.
        for _ in range(40):
            side = rng.random() < 0.5
            x0 = (
                int(rng.uniform(0, 0.3) * self.width)
                if side
                else int(rng.uniform(0.7, 0.95) * self.width)
            )
            y0 = int(rng.uniform(0, 0.95) * self.height)
            w, h = (
                int(rng.uniform(0.01, 0.05) * self.width),
                int(rng.uniform(0.02, 0.1) * self.height),
            )
            shade = tuple(int(c) for c in rng.integers(30, 230, 3))
            cv2.rectangle(bg, (x0, y0), (x0 + w, y0 + h), shade, -1)
        return bg

    @staticmethod
    def _follow(vehicles: list[_Vehicle]) -> None:
        """No overtaking inside a lane: a faster vehicle slows to the one ahead of it."""
        for v in vehicles:
            for ahead in vehicles:
                if ahead is v or ahead.direction != v.direction or ahead.lane != v.lane:
                    continue
                gap = (ahead.y_m - v.y_m) if v.direction == "in" else (v.y_m - ahead.y_m)
                if 0 < gap < _SIZES[ahead.cls][1] + 6.0:
                    v.speed_ms = min(v.speed_ms, ahead.speed_ms)

    @staticmethod
    def _free(vehicles: list[_Vehicle], direction: str, lane: int, y: float, length: float) -> bool:
        """Keep a headway in the lane: rectangles in one lane never merge into one blob."""
        for v in vehicles:
            if v.direction == direction and v.lane == lane and abs(v.y_m - y) < length + 8.0:
                return False
        return True

    def write(self, path: Path, seconds: float) -> list[dict[str, Any]]:
        """Write an MP4 of the scene; returns its crossings."""
        self.crossings = []
        writer = cv2.VideoWriter(
            str(path), cv2.VideoWriter.fourcc(*"mp4v"), self.fps, (self.width, self.height)
        )
        try:
            for frame in self.frames(seconds):
                writer.write(frame)
        finally:
            writer.release()
        return list(self.crossings)
