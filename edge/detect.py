"""Moving-object detection: background subtraction, shadow suppression, morphology, blobs.

Chosen over a neural detector because it runs at hundreds of frames per second on one core of
an edge box without a GPU, and a fixed traffic camera is the case background models were made
for. Shadows: MOG2 and KNN mark pixels darker than the background but of the same chromaticity
as 127; those are dropped before morphology, so a moving shadow does not become a second vehicle.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.config import ProcessingConfig
from edge.images import Image

Mask = Image

# MOG2/KNN write 255 for foreground and 127 for shadow.
_FOREGROUND = 200
# Opening removes speckle (rain, sensor noise, compression); the taller closing kernel joins a
# vehicle split by its own windscreen or a lane marking into one blob without merging vehicles
# side by side.
_OPEN = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
_CLOSE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 7))
# The top share of a box's rows whose column cover is its top fill (Detector.top_fill).
_TOP_ROWS = 0.3


@dataclass(frozen=True, slots=True)
class Blob:
    """One connected foreground region, analysis pixels."""

    x0: int
    y0: int
    x1: int  # exclusive
    y1: int  # exclusive
    area: int  # foreground pixels
    # A piece cut from a blob that several tracked vehicles merged into (edge/track.py).
    shared: bool = False

    @property
    def contact(self) -> tuple[float, float]:
        """Ground-contact point: bottom centre of the box (contract C2's crossing point)."""
        return ((self.x0 + self.x1) / 2.0, float(self.y1))

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)


class Detector:
    """Foreground mask and blobs of each analysis frame."""

    def __init__(self, cfg: ProcessingConfig, roi: Mask | None) -> None:
        self.cfg = cfg
        self.roi = roi
        self.subtractor: cv2.BackgroundSubtractor
        if cfg.subtractor == "mog2":
            mog = cv2.createBackgroundSubtractorMOG2(
                history=cfg.history, varThreshold=cfg.threshold or 16.0, detectShadows=cfg.shadows
            )
            # Three Gaussians per pixel are enough for a road (asphalt, vehicles, headlight
            # glare) and cost less than the default five.
            mog.setNMixtures(3)
            # A shadow is 0.45-0.95 of the background's brightness (default lower bound 0.5
            # misses the deep shadows of trucks in tropical noon sun).
            mog.setShadowThreshold(0.45)
            self.subtractor = mog
        else:
            self.subtractor = cv2.createBackgroundSubtractorKNN(
                history=cfg.history,
                dist2Threshold=cfg.threshold or 400.0,
                detectShadows=cfg.shadows,
            )
        self.mask: Mask | None = None
        # The last subtractor output (255 foreground, 127 shadow, 0 background).
        self.raw: Mask | None = None

    def foreground(self, frame: Image, learning_rate: float = -1.0) -> Mask:
        return self.select(self.subtractor.apply(frame, learningRate=learning_rate))

    def select(self, raw: Mask) -> Mask:
        """The vehicles' pixels of one subtractor output (separate so that an evaluation can
        replay cached subtractor outputs)."""
        self.raw = raw
        _, fg = cv2.threshold(raw, _FOREGROUND, 255, cv2.THRESH_BINARY)
        if self.roi is not None:
            cv2.bitwise_and(fg, self.roi, dst=fg)
        return fg

    @staticmethod
    def clean(fg: Mask) -> Mask:
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, _OPEN)
        return cv2.morphologyEx(fg, cv2.MORPH_CLOSE, _CLOSE)

    def top_fill(self, fg: Mask, box: tuple[float, float, float, float]) -> float:
        """Share of the box's columns covered in its top rows (_TOP_ROWS), shadow included.

        About 1 for a car (its roof is as wide as its body), low for a rider over the pool of
        its own headlight or two riders side by side, whose bottom edges are as wide as a car's.
        Shadow pixels count: the roof of a dark car in sunlight is as dark as a shadow and
        marked as one.
        """
        x0, y0, x1, y1 = (round(v) for v in box)
        x0, y0 = max(x0, 0), max(y0, 0)
        w, h = x1 - x0, y1 - y0
        if w <= 0 or h <= 0:
            return 1.0
        n = max(1, round(h * _TOP_ROWS))
        src = self.raw if self.raw is not None and self.raw.shape == fg.shape else fg
        cover = np.count_nonzero(src[y0 : y0 + n, x0:x1], axis=0)
        return float(np.count_nonzero(cover >= max(1, n // 3))) / max(cover.size, 1)

    def blobs(self, fg: Mask) -> list[Blob]:
        # Outer contours rather than connected-component labelling: the same regions (holes
        # do not matter for a box) at a thirtieth of the cost on a mostly empty mask.
        contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        out = []
        min_px = self.cfg.min_blob_px
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if w * h < min_px:
                continue
            area = int(cv2.contourArea(contour)) + len(contour)  # the outline counts too
            if area < min_px:
                continue
            out.append(Blob(x, y, x + w, y + h, area))
        return out
