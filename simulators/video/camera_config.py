"""The edge-node configuration for a generated scene (contract C1), from the same geometry the
frames were drawn with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from shapely.geometry import Polygon, box

from simulators.video.camera import CameraModel
from simulators.video.scene import RoadLayout
from simulators.video.truth import CountingLine

CAMERA_ID = "cam-sim-0001"
TENANT = "sxd"


def _image_polygon(camera: CameraModel, ground: Sequence[tuple[float, float]]) -> list[list[float]]:
    """A ground polygon's image, clipped to the frame, as [[x, y], ...] rounded to 0.1 px."""
    pts = camera.project_ground(np.array(ground, dtype=np.float64))
    frame = box(0, 0, camera.width - 1, camera.height - 1)
    clipped = Polygon(pts).intersection(frame)
    if not isinstance(clipped, Polygon) or clipped.is_empty:
        raise ValueError(f"ground polygon {ground} is not in view")
    coords = list(clipped.exterior.coords)[:-1]
    return [[round(float(x), 1), round(float(y), 1)] for x, y in coords]


def calibration_points(layout: RoadLayout) -> list[tuple[float, float]]:
    """Four ground points a surveyor would pick: where the edge lines meet two cross sections."""
    x = layout.carriageway_half_m - 0.3
    return [
        (-x, layout.zone_near_m),
        (x, layout.zone_near_m),
        (x, layout.zone_far_m),
        (-x, layout.zone_far_m),
    ]


def camera_config(
    camera: CameraModel,
    layout: RoadLayout,
    lines: Sequence[CountingLine],
    *,
    video_name: str = "video.mp4",
) -> dict[str, Any]:
    half = layout.carriageway_half_m + 0.3
    roi = _image_polygon(
        camera,
        [
            (-half, layout.roi_near_m),
            (half, layout.roi_near_m),
            (half, layout.roi_far_m),
            (-half, layout.roi_far_m),
        ],
    )
    zones = []
    for direction in ("in", "out"):
        lo, hi = layout.direction_span(direction)
        zones.append(
            {
                "name": f"approach-{direction}",
                "polygon": _image_polygon(
                    camera,
                    [
                        (lo, layout.zone_near_m),
                        (hi, layout.zone_near_m),
                        (hi, layout.zone_far_m),
                        (lo, layout.zone_far_m),
                    ],
                ),
            }
        )
    ground = calibration_points(layout)
    image = camera.project_ground(np.array(ground))
    return {
        "camera": {"id": CAMERA_ID, "tenant": TENANT},
        "source": {"kind": "file", "path": video_name, "loop": False},
        "processing": {"width": 640},
        "roi": roi,
        "lines": [line.as_contract() for line in lines],
        "zones": zones,
        "calibration": {
            "image": [[round(float(u), 2), round(float(v), 2)] for u, v in image],
            "ground": [[round(x, 3), round(y, 3)] for x, y in ground],
        },
        "intervals_s": [15, 60],
        "snapshots": {"enabled": False},
    }
