"""Camera-shake compensation: shift each frame back onto a reference view before subtraction.

A pole-mounted camera sways in wind and trembles under trucks; a background model then sees
every edge of the scene move and floods the mask. The shift between the frame and a reference
is found by phase correlation on a small grey image (sub-pixel, a fraction of a millisecond,
dominated by the static scene rather than by the traffic) and undone with one affine warp.
The reference is the view the camera settles on; it follows slow drift so a camera that was
deliberately re-aimed is not "corrected" for ever (that is the health check's scene change).
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.images import Image

# Phase correlation runs at this width (analysis frames are scaled down to it).
_WIDTH = 320
# Shifts below this (analysis px) are left alone: no warp, no cost, no interpolation blur.
_MIN_SHIFT_PX = 0.35
# Correlation peaks below this are not trusted (a blackout, a frame full of rain).
_MIN_RESPONSE = 0.08
# Shifts beyond this share of the width are not shake but a moved camera: left to health.
_MAX_SHIFT = 0.08
# Reference update: new = (1 - a) * old + a * frame, only while the view is steady.
_REF_ALPHA = 0.02


class Stabiliser:
    def __init__(self) -> None:
        self.reference: Image | None = None
        self.window: Image | None = None
        self.scale = 1.0
        self.shift = (0.0, 0.0)

    def __call__(self, frame: Image) -> Image:
        h, w = frame.shape[:2]
        self.scale = min(1.0, _WIDTH / w)
        size = (round(w * self.scale), round(h * self.scale))
        grey = cv2.cvtColor(
            cv2.resize(frame, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY
        )
        g = grey.astype(np.float32)
        if self.reference is None or self.reference.shape != g.shape:
            self.reference = g
            self.window = cv2.createHanningWindow((size[0], size[1]), cv2.CV_32F)
            return frame
        (dx, dy), response = cv2.phaseCorrelate(self.reference, g, self.window)
        dx, dy = dx / self.scale, dy / self.scale
        if response < _MIN_RESPONSE or max(abs(dx), abs(dy)) > _MAX_SHIFT * w:
            self.shift = (0.0, 0.0)
            return frame
        self.shift = (dx, dy)
        if max(abs(dx), abs(dy)) < _MIN_SHIFT_PX:
            cv2.accumulateWeighted(g, self.reference, _REF_ALPHA)
            return frame
        matrix = np.float32([[1, 0, -dx], [0, 1, -dy]])
        return cv2.warpAffine(frame, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
