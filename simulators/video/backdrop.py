"""The static scene, painted once per run: road surface, markings, sidewalks, shop-house
facades, trees and street lights, in day, dusk and night versions.

Painting once and copying per frame is what makes long videos cheap. The ground is painted
top-down in metres and warped into the image through the camera's ground homography, so lane
markings sit exactly where the layout (and the counting lines) say they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from simulators.video.camera import CameraModel
from simulators.video.conditions import Lighting
from simulators.video.scene import SUN_SHADOW_PER_M, RoadLayout

Image = NDArray[np.uint8]

PX_PER_M = 20.0  # ground texture resolution
GROUND_X = (-26.0, 26.0)
GROUND_Y = (-2.0, 125.0)
FACADE_X = 11.5
POLE_X = 7.9
POLE_SPACING_M = 28.0
TREE_SPACING_M = 11.0
SWAY_PX = 4  # margin for the swaying tree-shadow layer
CANOPY_Z_M = 5.5
TREE_SHADE = 0.65  # light left under a canopy's shadow (leaves let some through)


@dataclass(slots=True)
class Backdrop:
    """Backgrounds and shade layers on the padded canvas (frame plus shake margin)."""

    pad: int
    size: tuple[int, int]  # canvas (width, height)
    homography: NDArray[np.float64]  # ground metres -> canvas pixels
    projection: NDArray[np.float64]  # world metres -> canvas pixels (3x4)
    backgrounds: dict[Lighting, Image]
    tree_shade: Image  # multiplicative (255 = lit), canvas plus SWAY_PX on every side


def _canvas_camera(
    camera: CameraModel, pad: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    shift = np.array([[1.0, 0, pad], [0, 1.0, pad], [0, 0, 1.0]])
    return shift @ camera.ground_homography(), shift @ camera.projection()


def _texture_to_ground() -> NDArray[np.float64]:
    s = 1.0 / PX_PER_M
    return np.array([[s, 0, GROUND_X[0]], [0, s, GROUND_Y[0]], [0, 0, 1.0]])


def _gx(x: float) -> int:
    return round((x - GROUND_X[0]) * PX_PER_M)


def _gy(y: float) -> int:
    return round((y - GROUND_Y[0]) * PX_PER_M)


def _paint_ground(
    rng: np.random.Generator, layout: RoadLayout
) -> tuple[Image, NDArray[np.float32]]:
    """Top-down daylight ground (BGR) and the tree-shadow factor map, both in texture pixels."""
    w = _gx(GROUND_X[1])
    h = _gy(GROUND_Y[1])
    half = layout.carriageway_half_m
    # Asphalt: grain plus broad patches (repairs, wear), darker wheel paths.
    grain = rng.standard_normal((h, w), dtype=np.float32) * 7.0
    patches = cv2.resize(
        rng.normal(0.0, 6.0, (h // 60 + 2, w // 60 + 2)).astype(np.float32),
        (w, h),
        interpolation=cv2.INTER_CUBIC,
    )
    lum = 92.0 + grain + patches
    xs = (np.arange(w) / PX_PER_M + GROUND_X[0]).astype(np.float32)
    for lane in layout.lanes:
        for off in (-0.8, 0.8):
            lum -= 7.0 * np.exp(-(((xs - lane.centre - off) / 0.35) ** 2))[None, :]
    ground = np.dstack([lum + 3, lum + 1, lum - 1])  # a faint blue-grey cast (BGR)
    # Sidewalk tiles, curb, shop-front strip beyond.
    walk_in, walk_out = half, half + layout.sidewalk_m
    tile = ((np.arange(h)[:, None] // 10 + np.arange(w)[None, :] // 10) % 2).astype(np.float32)
    for sign in (-1, 1):
        a, b = sorted((_gx(sign * walk_in), _gx(sign * walk_out)))
        ground[:, a:b] = (
            np.dstack([120 + 12 * tile[:, a:b], 128 + 12 * tile[:, a:b], 150 + 10 * tile[:, a:b]])
            + grain[:, a:b, None] * 0.6
        )
        c0, c1 = sorted((_gx(sign * walk_in), _gx(sign * (walk_in + 0.25))))
        ground[:, c0:c1] = 170 + grain[:, c0:c1, None] * 0.5
        f0, f1 = sorted((_gx(sign * walk_out), _gx(sign * GROUND_X[1])))
        ground[:, f0:f1] = np.array([70, 78, 88], np.float32) + grain[:, f0:f1, None]
    img = np.clip(ground, 0, 255).astype(np.uint8)
    # Markings: double yellow centre, dashed white lane lines, solid white edges, a zebra.
    yellow, white = (40, 190, 225), (225, 228, 228)
    for x in (-0.15, 0.15):
        cv2.rectangle(img, (_gx(x - 0.06), 0), (_gx(x + 0.06), h), yellow, -1)
    for i in range(1, layout.lanes_per_direction):
        for sign in (-1, 1):
            x = sign * (layout.median_m / 2 + i * layout.lane_width_m)
            for y0 in np.arange(GROUND_Y[0], GROUND_Y[1], 9.0):
                cv2.rectangle(
                    img, (_gx(x - 0.07), _gy(y0)), (_gx(x + 0.07), _gy(y0 + 3.0)), white, -1
                )
    for sign in (-1, 1):
        x = sign * (half - 0.3)
        cv2.rectangle(img, (_gx(x - 0.08), 0), (_gx(x + 0.08), h), white, -1)
    for x0 in np.arange(-half + 0.5, half - 0.5, 1.0):
        cv2.rectangle(img, (_gx(x0), _gy(52.0)), (_gx(x0 + 0.5), _gy(56.0)), white, -1)
    # Wear on the paint: let the grain show through the markings.
    img = np.clip(img.astype(np.float32) + grain[:, :, None] * 0.8, 0, 255).astype(np.uint8)
    # Tree canopies' shadows, cast by the afternoon sun toward +X and the camera.
    shade = np.ones((h, w), np.float32)
    for sign in (-1, 1):
        for y in np.arange(rng.uniform(0, TREE_SPACING_M), GROUND_Y[1], TREE_SPACING_M):
            cx = sign * (half + layout.sidewalk_m * 0.55) + SUN_SHADOW_PER_M[0] * CANOPY_Z_M
            cy = y + SUN_SHADOW_PER_M[1] * CANOPY_Z_M
            for _ in range(5):
                ox, oy = rng.normal(0, 0.9, 2)
                r = rng.uniform(1.0, 1.9)
                cv2.ellipse(
                    shade,
                    (_gx(cx + ox), _gy(cy + oy)),
                    (round(r * PX_PER_M), round(r * 0.8 * PX_PER_M)),
                    0,
                    0,
                    360,
                    TREE_SHADE,
                    -1,
                )
    return img, np.asarray(cv2.GaussianBlur(shade, (0, 0), 6), np.float32)


def _street_light_pools(layout: RoadLayout, size: tuple[int, int]) -> NDArray[np.float32]:
    """Relative illumination from street lights, in texture pixels (1 = pool centre)."""
    w, h = size
    xs = (np.arange(w) / PX_PER_M + GROUND_X[0]).astype(np.float32)
    ys = (np.arange(h) / PX_PER_M + GROUND_Y[0]).astype(np.float32)
    light = np.zeros((h, w), np.float32)
    for sign in (-1, 1):
        x_lamp = sign * (POLE_X - 2.2)  # the lamp hangs over the curb lane on its arm
        for y_lamp in np.arange(6.0 + (sign > 0) * POLE_SPACING_M / 2, GROUND_Y[1], POLE_SPACING_M):
            gx = np.exp(-(((xs - x_lamp) / 9.0) ** 2))
            gy = np.exp(-(((ys - y_lamp) / 11.0) ** 2))
            light += gy[:, None] * gx[None, :]
    return np.clip(light, 0, 1.2)


def _box_faces(
    proj: NDArray[np.float64], x0: float, x1: float, y0: float, y1: float, z0: float, z1: float
) -> NDArray[np.int32]:
    # Roadside objects nearer than 5 m are out of the frame (and their tops would fall behind
    # the image plane): clamping keeps every corner in front of the camera.
    y0, y1 = max(y0, 5.0), max(y1, 5.0)
    corners = np.array([[x, y, z, 1.0] for z in (z0, z1) for y in (y0, y1) for x in (x0, x1)])
    hom = corners @ proj.T
    pts = hom[:, :2] / np.maximum(hom[:, 2:3], 1e-6)
    return np.asarray(cv2.convexHull(np.round(pts).astype(np.int32)))


Item = tuple[float, str, tuple[float, ...], tuple[int, int, int]]  # depth, kind, geometry, BGR


def _paint_roadside(
    img: Image, proj: NDArray[np.float64], items: list[Item], lighting: Lighting
) -> None:
    """Facades, trees and poles drawn in the image, far to near (painter's order)."""
    dim = {"day": 1.0, "dusk": 0.5, "night": 0.16}[lighting]
    tint = {"day": (1.0, 1.0, 1.0), "dusk": (0.85, 0.95, 1.1), "night": (1.2, 1.0, 0.9)}[lighting]
    for _depth, kind, geom, bgr in sorted(items, key=lambda it: -it[0]):
        col = tuple(int(min(255, c * dim * t)) for c, t in zip(bgr, tint, strict=True))
        if kind == "box":
            cv2.fillConvexPoly(img, _box_faces(proj, *geom), col, cv2.LINE_AA)
        elif kind == "window" and lighting == "night":
            cv2.fillConvexPoly(img, _box_faces(proj, *geom), (120, 200, 250), cv2.LINE_AA)
        elif kind == "window":
            cv2.fillConvexPoly(img, _box_faces(proj, *geom), col, cv2.LINE_AA)
        elif kind == "canopy":
            x, y, z, r = geom
            hom = proj @ np.array([x, y, z, 1.0])
            u, v = hom[:2] / hom[2]
            edge = proj @ np.array([x + r, y, z, 1.0])
            rad = abs(edge[0] / edge[2] - u)
            cv2.ellipse(
                img,
                (round(u), round(v)),
                (round(rad), round(rad * 0.75)),
                0,
                0,
                360,
                col,
                -1,
                cv2.LINE_AA,
            )
        elif kind == "lamp" and lighting != "day":
            x, y, z = geom
            hom = proj @ np.array([x, y, z, 1.0])
            u, v = hom[:2] / hom[2]
            cv2.circle(img, (round(u), round(v)), 4, (235, 245, 255), -1, cv2.LINE_AA)


def _roadside_items(
    rng: np.random.Generator, layout: RoadLayout
) -> list[tuple[float, str, tuple[float, ...], tuple[int, int, int]]]:
    """What stands beside the road, with a depth for sorting: tube houses, trees, poles."""
    items: list[tuple[float, str, tuple[float, ...], tuple[int, int, int]]] = []
    palette = [
        (150, 190, 220),
        (170, 200, 200),
        (120, 160, 200),
        (200, 200, 190),
        (110, 150, 170),
        (180, 170, 210),
        (140, 180, 150),
    ]
    half = layout.carriageway_half_m
    for sign in (-1, 1):
        y = -1.0
        while y < GROUND_Y[1]:
            width = rng.uniform(3.8, 5.5)
            height = rng.uniform(6.0, 16.0)
            col = palette[int(rng.integers(len(palette)))]
            x_face = sign * FACADE_X
            x_back = sign * (FACADE_X + 8.0)
            x0, x1 = sorted((x_face, x_back))
            items.append((y + width / 2, "box", (x0, x1, y, y + width, 0.0, height), col))
            # A shop sign and a row of windows on each floor.
            sign_col = [(40, 40, 200), (200, 80, 30), (30, 150, 220), (60, 160, 60)][
                int(rng.integers(4))
            ]
            xs0, xs1 = sorted((x_face, x_face - sign * 0.3))
            items.append(
                (
                    y + width / 2 - 0.01,
                    "box",
                    (xs0, xs1, y + 0.3, y + width - 0.3, 3.0, 4.2),
                    sign_col,
                )
            )
            for floor in range(1, int(height // 3.3)):
                wx0, wx1 = sorted((x_face, x_face - sign * 0.05))
                items.append(
                    (
                        y + width / 2 - 0.02,
                        "window",
                        (wx0, wx1, y + 0.8, y + width - 0.8, floor * 3.3 + 1.0, floor * 3.3 + 2.4),
                        (70, 60, 50),
                    )
                )
            y += width
        x_trunk = sign * (half + layout.sidewalk_m * 0.55)
        for ty in np.arange(rng.uniform(0, TREE_SPACING_M), GROUND_Y[1], TREE_SPACING_M):
            tx0, tx1 = x_trunk - 0.15, x_trunk + 0.15
            items.append((ty, "box", (tx0, tx1, ty - 0.15, ty + 0.15, 0.0, 4.5), (40, 55, 70)))
            items.append(
                (ty - 0.5, "canopy", (x_trunk, ty, CANOPY_Z_M, rng.uniform(1.8, 2.6)), (50, 95, 60))
            )
        for py in np.arange(6.0 + (sign > 0) * POLE_SPACING_M / 2, GROUND_Y[1], POLE_SPACING_M):
            px0, px1 = sign * POLE_X - 0.09, sign * POLE_X + 0.09
            items.append((py, "box", (px0, px1, py - 0.09, py + 0.09, 0.0, 9.0), (150, 150, 150)))
            ax0, ax1 = sorted((sign * POLE_X, sign * (POLE_X - 2.4)))
            items.append(
                (py - 0.01, "box", (ax0, ax1, py - 0.05, py + 0.05, 8.9, 9.05), (150, 150, 150))
            )
            items.append((py - 0.02, "lamp", (sign * (POLE_X - 2.2), py, 8.85), (255, 255, 255)))
        # Motorbikes parked on the sidewalk in front of the shops, nose to the wall, as they are
        # along every street in Vietnam: static, outside the counting ROI.
        bike_cols = [(25, 25, 25), (30, 30, 180), (150, 50, 30), (200, 200, 205), (60, 60, 60)]
        y = 6.0
        while y < 80.0:
            if rng.random() < 0.55:
                x_in, x_out = sign * (FACADE_X - 0.3), sign * (FACADE_X - 2.2)
                bx0, bx1 = sorted((x_in, x_out))
                col = bike_cols[int(rng.integers(len(bike_cols)))]
                items.append((y + 0.35, "box", (bx0, bx1, y + 0.2, y + 0.5, 0.0, 0.75), col))
                sx0, sx1 = sorted((sign * (FACADE_X - 0.9), sign * (FACADE_X - 1.6)))
                items.append(
                    (y + 0.34, "box", (sx0, sx1, y + 0.1, y + 0.6, 0.7, 0.95), (30, 30, 30))
                )
                y += 0.75
            else:
                y += rng.uniform(1.5, 6.0)
    return items


def build_backdrop(
    rng: np.random.Generator, camera: CameraModel, layout: RoadLayout, *, pad: int
) -> Backdrop:
    size = (camera.width + 2 * pad, camera.height + 2 * pad)
    hom, proj = _canvas_camera(camera, pad)
    day_ground, shade = _paint_ground(rng, layout)
    tex_h, tex_w = day_ground.shape[:2]
    pools = _street_light_pools(layout, (tex_w, tex_h))
    warp = hom @ _texture_to_ground()
    items = _roadside_items(rng, layout)
    backgrounds: dict[Lighting, Image] = {}
    base = day_ground.astype(np.float32)
    for lighting in ("day", "dusk", "night"):
        if lighting == "day":
            tex = base
        elif lighting == "dusk":
            tex = base * np.array([0.42, 0.47, 0.58], np.float32) + (pools * 25)[:, :, None]
        else:
            lamp = np.array([0.55, 0.75, 0.95], np.float32)  # warm-white LED
            tex = base * (0.07 + 0.75 * pools[:, :, None] * lamp)
        ground = np.clip(tex, 0, 255).astype(np.uint8)
        img = np.asarray(
            cv2.warpPerspective(
                ground, warp, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            ),
            np.uint8,
        )
        _paint_roadside(img, proj, items, lighting)
        backgrounds[lighting] = img
    big = (size[0] + 2 * SWAY_PX, size[1] + 2 * SWAY_PX)
    shift = np.array([[1.0, 0, SWAY_PX], [0, 1.0, SWAY_PX], [0, 0, 1.0]])
    shade_img = cv2.warpPerspective(
        shade, shift @ warp, big, flags=cv2.INTER_LINEAR, borderValue=1.0
    )
    shade_u8 = np.clip(shade_img * 255, 0, 255).astype(np.uint8)
    return Backdrop(
        pad=pad,
        size=size,
        homography=hom,
        projection=proj,
        backgrounds=backgrounds,
        tree_shade=np.dstack([shade_u8, shade_u8, shade_u8]),
    )
