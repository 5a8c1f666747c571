"""Plane geometry of one camera: analysis-pixel scaling, the ground homography, lines, polygons.

The config speaks SOURCE-frame pixels; the pipeline works on the downscaled analysis frame.
Everything is converted once, when the first frame tells us the source size, so the per-frame
work is plain numpy on analysis pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.config import CameraConfig, CountingLine
from edge.images import Image

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Homography:
    """Analysis-pixel -> ground-metre mapping from the four-point calibration."""

    matrix: FloatArray

    @classmethod
    def from_config(cls, config: CameraConfig, scale: float) -> Homography:
        image = np.asarray(config.calibration.image, dtype=np.float64) * scale
        ground = np.asarray(config.calibration.ground, dtype=np.float64)
        matrix = cv2.getPerspectiveTransform(image.astype(np.float32), ground.astype(np.float32))
        return cls(matrix.astype(np.float64))

    def to_ground(self, points: FloatArray) -> FloatArray:
        """(N, 2) analysis pixels -> (N, 2) metres on the ground plane."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        ones = np.ones((pts.shape[0], 1))
        mapped = np.hstack([pts, ones]) @ self.matrix.T
        return mapped[:, :2] / mapped[:, 2:3]

    def across_m_per_px(self, u: float, row: float) -> float:
        """Ground metres per image pixel across the view at this point (over 10 px)."""
        g = self.to_ground(np.array([[u - 5.0, row], [u + 5.0, row]]))
        return float(np.hypot(*(g[1] - g[0]))) / 10.0


@dataclass(frozen=True, slots=True)
class Line:
    """A counting line in analysis pixels, with its unit normal pointing "in"."""

    name: str
    a: FloatArray
    b: FloatArray
    normal_in: FloatArray  # unit vector across the line, on the "in" side

    @classmethod
    def from_config(cls, line: CountingLine, scale: float) -> Line:
        a = np.asarray(line.a, dtype=np.float64) * scale
        b = np.asarray(line.b, dtype=np.float64) * scale
        d = b - a
        normal = np.array([-d[1], d[0]]) / np.hypot(*d)
        if float(normal @ np.asarray(line.in_direction, dtype=np.float64)) < 0:
            normal = -normal
        return cls(line.name, a, b, normal)

    def side(self, point: FloatArray) -> float:
        """Signed distance (px) of a point from the line; positive on the "in" side."""
        return float((point - self.a) @ self.normal_in)

    def along(self, point: FloatArray) -> float:
        """Position of the point's projection along a->b (0 at a, 1 at b)."""
        d = self.b - self.a
        return float((point - self.a) @ d / (d @ d))

    def at(self, along: float) -> FloatArray:
        """The point at position ``along`` (0 at a, 1 at b)."""
        return self.a + along * (self.b - self.a)

    def touches_box(self, x0: float, y0: float, x1: float, y1: float) -> bool:
        """Does the segment cross the axis-aligned box? (occupancy when no zone is drawn)"""
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
        sides = (corners - self.a) @ self.normal_in
        if sides.min() > 0 or sides.max() < 0:
            return False
        lo = min(self.a[0], self.b[0]), min(self.a[1], self.b[1])
        hi = max(self.a[0], self.b[0]), max(self.a[1], self.b[1])
        return not (x1 < lo[0] or x0 > hi[0] or y1 < lo[1] or y0 > hi[1])


def polygon_mask(points: list[tuple[float, float]], scale: float, shape: tuple[int, int]) -> Image:
    """Filled 0/255 mask of a SOURCE-pixel polygon on the analysis frame."""
    mask = np.zeros(shape, dtype=np.uint8)
    pts = np.round(np.asarray(points, dtype=np.float64) * scale).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255)
    return mask


def point_in_polygon(polygon: Image, point: FloatArray) -> bool:
    return cv2.pointPolygonTest(polygon, (float(point[0]), float(point[1])), False) >= 0
