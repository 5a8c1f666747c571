"""Shadow texture test: a cast shadow keeps the road's grain, a grey body does not.

MOG2 marks both as shadow (darker than the background, same chromaticity). In the simulator's
rain and dusk segments whole grey cars came out as "shadow" and only their bumper was left,
read as a motorbike (issue 5). Real MOG2 here, on a drawn grainy road.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.config import ProcessingConfig
from edge.detect import Detector


def _scene(texture: bool) -> tuple[np.ndarray, np.ndarray]:
    """The detector's raw output for a frame with a cast shadow (left) and a flat grey body
    of the shadow's brightness (right), after 200 frames of empty road."""
    rng = np.random.default_rng(5)
    grain = rng.normal(0, 7, (180, 320)).astype(np.float32)
    road = np.clip(110 + grain, 0, 255)
    detector = Detector(ProcessingConfig(stabilise=False, shadow_texture=texture), roi=None)
    for _ in range(200):
        noise = rng.normal(0, 1.5, road.shape).astype(np.float32)
        grey = np.clip(road + noise, 0, 255).astype(np.uint8)
        detector.foreground(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    frame = road.copy()
    frame[60:120, 40:120] *= 0.62  # cast shadow: the road, darker, grain kept
    frame[60:120, 200:280] = 110 * 0.62 + rng.normal(0, 1.5, (60, 80))  # grey paint, flat
    grey = np.clip(frame, 0, 255).astype(np.uint8)
    detector.foreground(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    assert detector.raw is not None
    return detector.raw[64:116, 44:116], detector.raw[64:116, 204:276]


def test_mog2_alone_calls_both_shadow() -> None:
    shadow, body = _scene(texture=False)
    assert np.mean(shadow == 127) > 0.9
    assert np.mean(body == 127) > 0.9  # the failure the texture test exists for


def test_the_texture_test_gives_the_body_back_and_keeps_the_shadow() -> None:
    shadow, body = _scene(texture=True)
    assert np.mean(body == 255) > 0.9
    assert np.mean(shadow == 127) > 0.9
