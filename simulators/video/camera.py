"""A pinhole camera above the road: the one geometry both the renderer and the calibration use.

Ground coordinates are metres: X across the road (right as the camera looks), Y along the road
away from the camera's foot, Z up. Because the frames are drawn through this model and the
camera.yaml calibration is projected through it too, the calibration is the scene's real
perspective, not an approximation of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CameraModel:
    """A camera on a pole or gantry, pitched down toward the road.

    Defaults resemble a city traffic camera: about 11 m up, looking down the road at 27 degrees,
    so the near lanes are seen almost from above (less occlusion between motorbikes) and the far
    end of the road fades toward the top of the frame.
    """

    width: int = 1280
    height: int = 720
    x_m: float = 1.0  # across the road; 0 is the centre line
    height_m: float = 11.0
    pitch_deg: float = 27.0  # below the horizontal
    yaw_deg: float = -1.0  # small turn, as a real mount is never perfectly aligned
    focal_scale: float = 0.85  # focal length in units of the image width

    @property
    def focal_px(self) -> float:
        return self.focal_scale * self.width

    def intrinsics(self) -> FloatArray:
        f = self.focal_px
        return np.array([[f, 0.0, self.width / 2.0], [0.0, f, self.height / 2.0], [0.0, 0.0, 1.0]])

    def rotation(self) -> FloatArray:
        """World-to-camera rotation; camera axes are x right, y down, z forward."""
        th = math.radians(self.pitch_deg)
        ps = math.radians(self.yaw_deg)
        forward = np.array(
            [math.sin(ps) * math.cos(th), math.cos(ps) * math.cos(th), -math.sin(th)]
        )
        right = np.array([math.cos(ps), -math.sin(ps), 0.0])
        down = np.cross(forward, right)
        return np.stack([right, down, forward])

    def projection(self) -> FloatArray:
        """3x4 matrix from homogeneous world points (X, Y, Z, 1) to image pixels."""
        rot = self.rotation()
        centre = np.array([self.x_m, 0.0, self.height_m])
        t = -rot @ centre
        return self.intrinsics() @ np.hstack([rot, t[:, None]])

    def ground_homography(self) -> FloatArray:
        """3x3 homography from ground (X, Y) metres to image pixels (the Z = 0 plane)."""
        p = self.projection()
        return p[:, [0, 1, 3]]

    def project(self, points: FloatArray) -> FloatArray:
        """World points (N, 3) to image pixels (N, 2)."""
        pts = np.asarray(points, dtype=np.float64)
        hom = np.hstack([pts, np.ones((len(pts), 1))]) @ self.projection().T
        return hom[:, :2] / np.maximum(hom[:, 2:3], 1e-6)

    def project_ground(self, points: FloatArray) -> FloatArray:
        """Ground points (N, 2) to image pixels (N, 2)."""
        pts = np.asarray(points, dtype=np.float64)
        return self.project(np.hstack([pts, np.zeros((len(pts), 1))]))

    def image_to_ground(self, pixels: FloatArray) -> FloatArray:
        """Image pixels (N, 2) to ground points (N, 2): the inverse of the ground homography."""
        inv = np.linalg.inv(self.ground_homography())
        pix = np.asarray(pixels, dtype=np.float64)
        hom = np.hstack([pix, np.ones((len(pix), 1))]) @ inv.T
        return hom[:, :2] / hom[:, 2:3]

    def ground_y_at_row(self, row: float) -> float:
        """Ground distance seen at an image row (at the image centre column)."""
        return float(self.image_to_ground(np.array([[self.width / 2.0, row]]))[0, 1])
