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
TOP_ROWS = 0.3
# Upper bound of MOG2's per-pixel variance (Detector.__init__).
_VAR_MAX = 150.0
# Texture test of shadow-marked pixels (Detector.reclaim): a cast shadow darkens the road and
# keeps its grain, so the frame and the background correlate over a small window; a grey car
# body as dark as a shadow replaces the grain with its own flat paint and does not.
_TEXTURE_WINDOW = (5, 5)
_TEXTURE_MIN_NCC = 0.4  # below: the pixel is a body, not a shadow
_TEXTURE_MIN_STD = 2.0  # grey levels of background grain the test needs (lane paint has none)
_BACKGROUND_EVERY = 25  # frames between refreshes of the background's grain statistics


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
            # A pixel's learnt variance may grow to 150 (sd 12 grey levels), not OpenCV's 75
            # (sd 8.7): rain on a compressed stream flickers more than that, and with the cap a
            # fifth to a third of an empty road stayed "foreground" through a rain segment
            # (simulator seed 42: 22-30 % of the road, against 2-15 % by day), whose blotches
            # were tracked and counted both ways. 300 cleaned rain further but let grey cars
            # fade into the learnt spread under moving cloud shadows (docs/performance.md).
            mog.setVarMax(_VAR_MAX)
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
        # Off by default: on the simulator's video it gave back grey car bodies but did not
        # improve the counts overall (docs/performance.md); kept for cameras that need it.
        self.texture = cfg.shadows and cfg.shadow_texture
        # The background model's grey image, refreshed every _BACKGROUND_EVERY frames when
        # something reads it (headlights in the dark, edge/lamps.py; the texture test).
        self.keep_background = self.texture or cfg.headlights
        self.background: Image | None = None
        self._frames = 0
        # Background grey, its local mean and standard deviation over _TEXTURE_WINDOW.
        self._bg: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._bg_of: Image | None = None  # the background those statistics were taken from

    def foreground(self, frame: Image, learning_rate: float = -1.0) -> Mask:
        raw = self.subtract(frame, learning_rate)
        if self.texture:
            self.reclaim(frame, raw)
        return self.select(raw)

    def subtract(self, frame: Image, learning_rate: float = -1.0) -> Mask:
        """The subtractor's raw output: 255 foreground, 127 shadow, 0 background."""
        raw = self.subtractor.apply(frame, learningRate=learning_rate)
        if self.keep_background and self._frames % _BACKGROUND_EVERY == 0:
            self.background = cv2.cvtColor(self.subtractor.getBackgroundImage(), cv2.COLOR_BGR2GRAY)
        self._frames += 1
        return raw

    def reclaim(self, frame: Image, raw: Mask) -> None:
        """Turn shadow-marked pixels that lost the road's grain into foreground, in place.

        MOG2 calls a pixel shadow when it is 0.45-1 of the background's brightness with the same
        chromaticity, which a grey or dark car on grey asphalt also is: in rain and at dusk whole
        car bodies came out as shadow, leaving a bumper strip read as a motorbike. A cast shadow
        only scales the light, so the frame stays proportional to the background over a small
        window (normalised cross-correlation near 1); a body paints over the grain (near 0).
        The large-region texture test of Sanin et al. (2012), cut down to one 5x5 window.
        """
        if self.background is None:
            return
        if self._bg is None or self._bg_of is not self.background:
            self._bg_of = self.background
            grain = self.background.astype(np.float32)
            mean = cv2.blur(grain, _TEXTURE_WINDOW)
            var = cv2.blur(grain * grain, _TEXTURE_WINDOW) - mean * mean
            self._bg = (grain, mean, np.sqrt(np.maximum(var, 0.0)).astype(np.float32))
        shadow = cv2.inRange(raw, 100, 150)
        x, y, w, h = cv2.boundingRect(shadow)
        if w == 0 or h == 0:
            return
        b, mb, sb = (m[y : y + h, x : x + w] for m in self._bg)
        a = cv2.cvtColor(frame[y : y + h, x : x + w], cv2.COLOR_BGR2GRAY).astype(np.float32)
        ma = cv2.blur(a, _TEXTURE_WINDOW)
        va = cv2.blur(a * a, _TEXTURE_WINDOW) - ma * ma
        cov = cv2.blur(a * b, _TEXTURE_WINDOW) - ma * mb
        # ncc < t  <=>  cov < t * sa * sb (sa, sb >= 0); flat frame windows (va ~ 0) are bodies.
        # A body is also flatter than the road's grain (sa < sb); a window across a cast
        # shadow's edge is not (the step of the edge), and taking those back glued riders to
        # their shadows and to each other.
        sa = np.sqrt(np.maximum(va, 0.0))
        body = (cov < _TEXTURE_MIN_NCC * sa * sb) & (sa < sb) & (sb >= _TEXTURE_MIN_STD)
        region = raw[y : y + h, x : x + w]
        region[body & (shadow[y : y + h, x : x + w] > 0)] = 255

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
        """Share of the box's columns covered in its top rows (TOP_ROWS), shadow included.

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
        n = max(1, round(h * TOP_ROWS))
        src = self.raw if self.raw is not None and self.raw.shape == fg.shape else fg
        cover = np.count_nonzero(src[y0 : y0 + n, x0:x1], axis=0)
        return float(np.count_nonzero(cover >= max(1, n // 3))) / max(cover.size, 1)

    def blobs(self, fg: Mask) -> list[Blob]:
        return regions(fg, min_px=self.cfg.min_blob_px)


def regions(mask: Mask, *, min_px: int = 0, max_px: int | None = None) -> list[Blob]:
    """The mask's connected regions as boxes, those of ``min_px`` to ``max_px`` pixels.

    Outer contours rather than connected-component labelling: the same regions (holes do not
    matter for a box) at a thirtieth of the cost on a mostly empty mask.
    """
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if w * h < min_px:
            continue
        area = int(cv2.contourArea(contour)) + len(contour)  # the outline counts too
        if area < min_px or (max_px is not None and area > max_px):
            continue
        out.append(Blob(x, y, x + w, y + h, area))
    return out
