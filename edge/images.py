"""The one array type of the package: OpenCV's Python stubs return loosely typed arrays, so a
precise dtype in our signatures would need a cast at every call for no safety gained."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[Any]  # an OpenCV image or mask (uint8), or a float map
Floats = npt.NDArray[np.float64]

# A scene whose mean grey level is below this is dark: headlights are on and light the road
# ahead (simulator: day 92-119, dusk 64-68, night 42-48). The roofless-car rule and the
# counter's twin window read the frame's (grey_thumb); the headlight filter and the lamp
# counts behind the two-wheeler rule read the background model's (edge/pipeline.py).
DARK_LUMA = 80.0


def grey_thumb(frame: Image) -> Image:
    """A 160 x 90 grey thumbnail of a BGR frame (~0.1 ms at 640 px): what the camera health
    checks judge, and whose mean grey level tells the class rules day from night."""
    thumb = cv2.resize(frame, (160, 90), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(thumb, cv2.COLOR_BGR2GRAY)


__all__ = ["DARK_LUMA", "Floats", "Image", "grey_thumb"]
