"""Occupancy and queue length per zone.

Occupancy is the share of frames in which a vehicle's ground-contact point was inside the zone
(the profile's "share of the interval the detection zone was occupied", as a loop detector
measures it). With no zone drawn, each counting line acts as the detector: a frame is occupied
when a vehicle's box straddles a line. Queue length is the ground distance from the zone's head
(where the queue forms, e.g. the stop line) to the farthest vehicle standing still inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.config import Zone
from edge.geometry import Homography, Line, point_in_polygon
from edge.images import Image
from edge.measure import track_speed_kmh
from edge.track import Track

# Below this a vehicle is standing in the queue (walking pace; stop-and-go creep included).
STATIONARY_KMH = 4.0


@dataclass(frozen=True, slots=True)
class ZoneReading:
    occupied: bool
    queue_m: float


class ZoneMeter:
    def __init__(self, zone: Zone, scale: float, homography: Homography) -> None:
        self.name = zone.name
        pts = np.asarray(zone.polygon, dtype=np.float64) * scale
        self.polygon: Image = pts.astype(np.float32).reshape(-1, 1, 2)
        head = (
            np.asarray(zone.head, dtype=np.float64) * scale
            if zone.head is not None
            else (pts[0] + pts[1]) / 2  # the middle of the first edge: draw zones from there
        )
        self.head_ground = homography.to_ground(head)[0]
        self.homography = homography

    def read(self, tracks: list[Track]) -> ZoneReading:
        occupied = False
        queue = 0.0
        for tr in tracks:
            point = np.asarray(tr.contact)
            if not point_in_polygon(self.polygon, point):
                continue
            occupied = True
            speed = track_speed_kmh(tr, self.homography)
            if speed is not None and speed < STATIONARY_KMH:
                g = self.homography.to_ground(point)[0]
                queue = max(queue, float(np.hypot(*(g - self.head_ground))))
        return ZoneReading(occupied, queue)


def lines_occupied(lines: list[Line], tracks: list[Track]) -> bool:
    """The no-zone fallback: is any vehicle standing on a counting line in this frame?"""
    return any(line.touches_box(*tr.box) for tr in tracks if tr.matched_now for line in lines)
