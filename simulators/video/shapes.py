"""What each vehicle class looks like: a few boxes per vehicle, in its own coordinates.

A part is (lateral from, lateral to, along from, along to, height from, height to, role) with
"along" measured from the rear (0) to the front (length) and the role picking the colour. Boxes
drawn as three filled polygons (silhouette, top, near end) are cheap and read as vehicles at the
resolutions traffic analytics work at.
"""

from __future__ import annotations

from typing import Literal

from simulators.video.vehicles import Vehicle

Role = Literal["body", "accent", "dark", "glass", "helmet", "wheel", "skin"]
Part = tuple[float, float, float, float, float, float, Role]


def parts(v: Vehicle, *, poncho: bool = False) -> list[Part]:
    length, w, h = v.length_m, v.width_m, v.height_m
    hw = w / 2.0
    if v.cls == "motorbike":
        torso_w = hw + 0.05 if poncho else 0.22
        torso_u = (0.22 * length, 0.82 * length) if poncho else (0.42 * length, 0.68 * length)
        out: list[Part] = [
            (-0.06, 0.06, 0.0, 0.35, 0.0, 0.55, "wheel"),
            (-0.06, 0.06, length - 0.35, length, 0.0, 0.55, "wheel"),
            (-0.17, 0.17, 0.15 * length, 0.9 * length, 0.2, 0.78, "body"),
            (-hw, hw, 0.55 * length, 0.62 * length, 0.75, 0.95, "dark"),  # handlebar, mirrors
            (-0.2, 0.2, 0.35 * length, 0.6 * length, 0.5, 0.9, "dark"),  # legs and seat
            (
                -torso_w,
                torso_w,
                torso_u[0],
                torso_u[1],
                0.85 if not poncho else 0.55,
                h - 0.27,
                "accent",
            ),
            (-0.13, 0.13, 0.47 * length, 0.63 * length, h - 0.29, h, "helmet"),
        ]
        if v.variant == 1 and not poncho:  # a passenger behind the rider
            passenger: Part = (-0.2, 0.2, 0.2 * length, 0.42 * length, 0.85, h - 0.35, "dark")
            # Painter's order: the passenger is behind the rider, so farther when inbound.
            out.insert(5 if v.direction == "in" else len(out), passenger)
        return out
    if v.cls == "bicycle":
        return [
            (-0.03, 0.03, 0.0, length, 0.0, 0.65, "wheel"),
            (-0.05, 0.05, 0.2 * length, 0.8 * length, 0.4, 0.8, "body"),
            (-0.16, 0.16, 0.35 * length, 0.6 * length, 0.35, 0.9, "dark"),
            (-0.2, 0.2, 0.35 * length, 0.62 * length, 0.9, h - 0.25, "accent"),
            (-0.11, 0.11, 0.45 * length, 0.6 * length, h - 0.26, h, "helmet"),
        ]
    if v.cls == "car":
        wheel_w = 0.22
        return [
            (-hw, -hw + wheel_w, 0.12 * length, 0.12 * length + 0.62, 0.0, 0.6, "wheel"),
            (hw - wheel_w, hw, 0.12 * length, 0.12 * length + 0.62, 0.0, 0.6, "wheel"),
            (-hw, -hw + wheel_w, 0.82 * length - 0.62, 0.82 * length, 0.0, 0.6, "wheel"),
            (hw - wheel_w, hw, 0.82 * length - 0.62, 0.82 * length, 0.0, 0.6, "wheel"),
            (-hw, hw, 0.0, length, 0.12, 0.82, "body"),
            (-hw + 0.12, hw - 0.12, 0.2 * length, 0.72 * length, 0.82, h, "glass"),
        ]
    # bus_truck
    if v.variant == 1:  # truck: cab and cargo box, the farther one drawn first
        cab: Part = (-hw, hw, length - 2.2, length, 0.35, 2.7, "body")
        cargo: Part = (-hw, hw, 0.0, length - 2.4, 0.9, h, "accent")
        wheels: Part = (-hw, hw, 0.0, length, 0.0, 0.75, "wheel")
        return [wheels, cargo, cab] if v.direction == "in" else [wheels, cab, cargo]
    return [
        (-hw, hw, 0.0, length, 0.0, 0.6, "wheel"),
        (-hw, hw, 0.0, length, 0.3, h, "body"),
    ]
