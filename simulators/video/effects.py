"""Whole-frame effects: sensor noise, rain streaks, moving cloud shadows, camera shake.

Each is precomputed as a small bank of layers from the seeded generator and applied per frame
with saturating OpenCV arithmetic on a random crop or shift, which costs well under a
millisecond per layer at 720p, where drawing fresh noise each frame would cost tens.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]

BANK = 4  # layers per bank; with random crops this never visibly repeats
JITTER = 16  # crop margin of the noise and rain banks
STARVED_QUALITY = 30  # JPEG quality of the "compression" segments: visibly blocky, still legible


class Effects:
    def __init__(self, rng: np.random.Generator, size: tuple[int, int]) -> None:
        w, h = size
        self.size = size
        self.rng = rng
        big = (h + JITTER, w + JITTER, 3)
        self.noise: dict[str, list[tuple[Image, Image]]] = {}
        for name, sigma in (("low", 2.2), ("high", 6.0)):
            layers = []
            for _ in range(BANK):
                n = rng.standard_normal(big, dtype=np.float32) * sigma
                # Sensor noise is mostly luminance: correlate the channels.
                n = 0.7 * n[:, :, :1] + 0.3 * n
                pos = np.clip(n, 0, 255).astype(np.uint8)
                neg = np.clip(-n, 0, 255).astype(np.uint8)
                layers.append((pos, neg))
            self.noise[name] = layers
        self.rain: list[Image] = [self._rain_layer(rng, big) for _ in range(BANK)]
        # Clouds: a smooth field three frames wide that drifts across the scene.
        coarse = rng.normal(0.0, 1.0, (h // 90 + 3, (3 * w) // 90 + 3)).astype(np.float32)
        field = np.asarray(
            cv2.GaussianBlur(
                cv2.resize(coarse, (3 * w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 25
            ),
            dtype=np.float32,
        )
        field = (field - field.min()) / max(float(field.max() - field.min()), 1e-6)
        shade = 1.0 - 0.42 * np.clip((field - 0.45) * 3.0, 0, 1)
        cloud = np.clip(shade * 255, 0, 255).astype(np.uint8)
        self.clouds = cv2.merge([cloud, cloud, cloud])
        self._shake_phase = rng.uniform(0, 2 * math.pi, 4)
        self._white = np.full((h, w, 3), 255, np.uint8)
        self._grey = np.full((h, w, 3), 150, np.uint8)

    @staticmethod
    def _rain_layer(rng: np.random.Generator, shape: tuple[int, int, int]) -> Image:
        h, w = shape[:2]
        layer = np.zeros(shape, np.uint8)
        n = 650
        xs = rng.integers(0, w, n)
        ys = rng.integers(0, h, n)
        lengths = rng.uniform(12, 40, n)
        bright = rng.integers(25, 70, n)
        for x, y, ln, b in zip(xs, ys, lengths, bright, strict=True):
            dx, dy = 0.25 * ln, ln
            cv2.line(
                layer,
                (int(x), int(y)),
                (int(x + dx), int(y + dy)),
                (int(b), int(b), int(b)),
                1,
                cv2.LINE_AA,
            )
        return layer

    def _crop(self, layer: Image, dx: int, dy: int) -> Image:
        w, h = self.size
        return layer[dy : dy + h, dx : dx + w]

    def add_noise(self, frame: Image, level: str) -> None:
        """Zero-mean sensor noise on a frame no larger than the canvas."""
        pos, neg = self.noise[level][int(self.rng.integers(BANK))]
        h, w = frame.shape[:2]
        dx, dy = (int(v) for v in self.rng.integers(0, JITTER, 2))
        cv2.add(frame, pos[dy : dy + h, dx : dx + w], dst=frame)
        dx, dy = (int(v) for v in self.rng.integers(0, JITTER, 2))
        cv2.subtract(frame, neg[dy : dy + h, dx : dx + w], dst=frame)

    def add_rain(self, frame: Image, level: float) -> None:
        """Haze that lowers contrast and streaks; both fainter in the dark (less light to
        scatter)."""
        layer = self.rain[int(self.rng.integers(BANK))]
        dx, dy = (int(v) for v in self.rng.integers(0, JITTER, 2))
        haze = 0.18
        cv2.addWeighted(frame, 1.0 - haze, self._grey, haze, (level - 1.0) * 110 * haze, dst=frame)
        streaks = self._crop(layer, dx, dy)
        if level < 0.75:
            cv2.addWeighted(frame, 1.0, streaks, 0.45 + 0.55 * level, 0, dst=frame)
        else:
            cv2.add(frame, streaks, dst=frame)

    def shade(self, frame: Image, layer: Image, strength: float) -> None:
        """Multiply by a shade layer (255 = unshaded), weakened by ``strength`` in [0, 1]."""
        if strength <= 0.0:
            return
        if strength < 1.0:
            layer = np.asarray(
                cv2.addWeighted(layer, strength, self._white, 1.0 - strength, 0), np.uint8
            )
        cv2.multiply(frame, layer, dst=frame, scale=1.0 / 255.0)

    @staticmethod
    def starve(frame: Image) -> Image:
        """What a bandwidth-starved camera stream looks like: 8x8 blocks, smeared detail."""
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, STARVED_QUALITY])
        if not ok:
            return frame
        return np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), np.uint8)

    def cloud_layer(self, t: float) -> Image:
        w, _ = self.size
        offset = int((t * 9.0) % (2 * w))  # clouds drift a frame's width in about 2 min
        return self.clouds[:, offset : offset + w]

    def shake(self, t: float, amplitude_px: float) -> tuple[int, int]:
        """Camera offset at time t: wind sway plus a faster tremor, in whole pixels."""
        p = self._shake_phase
        dx = 0.65 * math.sin(2 * math.pi * 0.9 * t + p[0]) + 0.35 * math.sin(
            2 * math.pi * 3.7 * t + p[1]
        )
        dy = 0.6 * math.sin(2 * math.pi * 1.3 * t + p[2]) + 0.4 * math.sin(
            2 * math.pi * 4.3 * t + p[3]
        )
        return round(amplitude_px * dx), round(amplitude_px * dy)
