"""Camera health: each condition is raised by the picture that causes it, and clears again."""

from __future__ import annotations

import cv2
import numpy as np

from edge.config import HealthConfig
from edge.health import CameraHealth
from edge.scene import Scene

FPS = 5.0  # health is judged on every 5th frame of a 25 fps stream


def good_frames(n: int, seed: int = 2) -> list[np.ndarray]:
    scene = Scene(width=320, height=180, seed=seed, rate_per_min=120)
    return [cv2.resize(f, (320, 180)) for f in scene.frames(n / 25.0)][::1]


def run(health: CameraHealth, frames: list[np.ndarray], t0: float) -> tuple[float, set[str]]:
    raised: set[str] = set()
    t = t0
    for frame in frames:
        for change in health.update(frame, t):
            if change.active:
                raised.add(change.condition)
        t += 1 / FPS
    return t, raised


def test_a_good_picture_raises_nothing() -> None:
    health = CameraHealth(HealthConfig())
    _, raised = run(health, good_frames(120), 0.0)
    assert raised == set()
    assert health.healthy()


def test_each_fault_is_detected_and_clears() -> None:
    base = good_frames(160)
    knocked = cv2.getRotationMatrix2D((160, 90), 25, 1.0)  # the camera was hit and turned
    faults = {
        "frozen": [base[40]] * 40,
        "blackout": [np.full_like(base[0], 3)] * 30,
        "low_light": [(f * 0.25).astype(np.uint8) for f in base[40:70]],
        "blur": [cv2.GaussianBlur(f, (15, 15), 6) for f in base[40:70]],
        "scene_change": [cv2.warpAffine(f, knocked, (320, 180)) for f in base[40:70]],
    }
    for condition, bad in faults.items():
        health = CameraHealth(HealthConfig(hold_s=1.0, frozen_s=2.0))
        t, raised = run(health, base[:40], 0.0)
        assert raised == set(), condition
        t, raised = run(health, bad, t)
        assert condition in raised, f"{condition} not raised (got {raised})"
        assert not health.healthy() or condition == "low_light"
        t, _ = run(health, base[70:160], t)
        assert condition not in health.active, f"{condition} did not clear"
