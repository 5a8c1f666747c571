"""The one array type of the package: OpenCV's Python stubs return loosely typed arrays, so a
precise dtype in our signatures would need a cast at every call for no safety gained."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[Any]  # an OpenCV image or mask (uint8), or a float map
Floats = npt.NDArray[np.float64]

__all__ = ["Floats", "Image"]
