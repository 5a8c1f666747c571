"""Drawing one frame: background for the light of the moment, shadows, vehicles far to near,
lights at night, then shade, rain, shake and sensor noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from simulators.video.backdrop import SWAY_PX, Backdrop
from simulators.video.conditions import Segment
from simulators.video.effects import Effects
from simulators.video.pedestrians import Walker, draw_walkers
from simulators.video.scene import SUN_SHADOW_PER_M
from simulators.video.shapes import parts
from simulators.video.traffic import FrameState
from simulators.video.vehicles import Vehicle

Image = NDArray[np.uint8]

SHAKE_PX = 3.0
CAST_SHADOW_DEPTH = 0.4  # a sunlit shadow keeps 60 % of the light: hazy tropical sun, sky fill
CONTACT_SHADE = 80  # of 255: the dark patch under a body, where no light reaches
HEADLIGHT_POOL = 45  # grey levels added to the road ahead of an inbound vehicle at night
NEAR_CLIP_M = 1.0
# Corner order of a projected box: index = 4 * (z high) + 2 * (far end) + (right side).
TOP_FACE = [4, 5, 7, 6]
NEAR_FACE = [0, 1, 5, 4]
CORNER_X = [0, 1, 0, 1, 0, 1, 0, 1]
CORNER_Y = [0, 0, 1, 1, 0, 0, 1, 1]
CORNER_Z = [0, 0, 0, 0, 1, 1, 1, 1]
FACE_SHADES = np.array([0.72, 1.0, 0.86])  # silhouette (sides), top, near end


@dataclass(frozen=True, slots=True)
class Look:
    """Light-dependent drawing parameters for one frame."""

    level: float  # 1 day, 0.5 dusk, 0 night
    body: float  # multiplier on vehicle colours
    shadow: float  # cast-shadow strength (0 none)
    headlights: bool

    @staticmethod
    def at(level: float, *, overcast: bool = False) -> Look:
        """Drawing parameters for a light level; rain clouds take the cast shadows away."""
        body = 0.16 + 0.84 * level**1.3
        shadow = 0.0 if overcast else float(np.clip((level - 0.55) / 0.45, 0, 1))
        return Look(level, body, shadow, level < 0.8)


def _bgr(rgb: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return (min(255, int(rgb[2] * k)), min(255, int(rgb[1] * k)), min(255, int(rgb[0] * k)))


class Renderer:
    def __init__(
        self,
        vehicles: Sequence[Vehicle],
        backdrop: Backdrop,
        rng: np.random.Generator,
        *,
        camera_x_m: float,
        ponchos: frozenset[int] = frozenset(),
        walkers: list[Walker] | None = None,
    ) -> None:
        self.vehicles = vehicles
        self.backdrop = backdrop
        self.proj = backdrop.projection
        self.effects = Effects(rng, backdrop.size)
        self.camera_x = camera_x_m
        self.ponchos = ponchos
        self.walkers = walkers or []
        self._parts: dict[int, tuple[NDArray[np.float64], NDArray[np.float64], list[str]]] = {}
        w, h = backdrop.size
        self._bounds = (-50, -50, w + 50, h + 50)
        self._shade_layer = np.empty((h, w, 3), np.uint8)
        self._light_layer = np.empty((h, w, 3), np.uint8)

    def _project(self, pts: NDArray[np.float64]) -> NDArray[np.int32]:
        hom = pts @ self.proj[:, :3].T + self.proj[:, 3]
        uv = hom[..., :2] / np.maximum(hom[..., 2:3], 1e-3)
        return np.round(uv).astype(np.int32)

    def background(self, level: float) -> Image:
        bgs = self.backdrop.backgrounds
        if level >= 0.999:
            return bgs["day"].copy()
        if level <= 0.001:
            return bgs["night"].copy()
        if abs(level - 0.5) < 1e-3:
            return bgs["dusk"].copy()
        if level > 0.5:
            u = (level - 0.5) / 0.5
            return np.asarray(cv2.addWeighted(bgs["day"], u, bgs["dusk"], 1 - u, 0), np.uint8)
        u = level / 0.5
        return np.asarray(cv2.addWeighted(bgs["dusk"], u, bgs["night"], 1 - u, 0), np.uint8)

    def draw_people(self, frame: Image, t: float, look: Look) -> None:
        draw_walkers(frame, self.walkers, t, self.proj, look.body)

    def draw_traffic(self, frame: Image, state: FrameState, look: Look) -> None:
        """Shadows on the ground first, then vehicles from the farthest to the nearest.

        All corners of all parts are projected in one matrix product per frame; the Python loop
        only issues the polygon fills.
        """
        if len(state.index) == 0:
            return
        order = np.argsort(-state.y_near, kind="stable")
        idx = state.index[order]
        x, y_near = state.x[order], state.y_near[order]
        vs = [self.vehicles[int(i)] for i in idx]
        length = np.array([v.length_m for v in vs])
        hw = np.array([v.width_m / 2.0 for v in vs])
        height = np.array([v.height_m for v in vs])
        self._ground_marks(frame, vs, x, y_near, length, hw, height, look)
        cached = [self._cached(int(i)) for i in idx]
        counts = np.array([len(c[0]) for c in cached])
        arr = np.concatenate([c[0] for c in cached])
        cols = np.concatenate([c[1] for c in cached])
        owner = np.repeat(np.arange(len(vs)), counts)
        inbound = np.array([v.direction == "in" for v in vs])[owner]
        base, span = y_near[owner], length[owner]
        # Ground Y of the "along" coordinate: inbound vehicles face the camera.
        ya = np.where(inbound, base + span - arr[:, 3], base + arr[:, 2])
        yb = np.where(inbound, base + span - arr[:, 2], base + arr[:, 3])
        # Under the camera's foot a point can fall behind the image plane; anything nearer than
        # NEAR_CLIP_M projects below the frame anyway, so clamping there draws the same pixels.
        ya, yb = np.maximum(ya, NEAR_CLIP_M), np.maximum(yb, NEAR_CLIP_M)
        xa, xb = x[owner] + arr[:, 0], x[owner] + arr[:, 1]
        corners = np.stack(
            [
                np.stack([xa, xb], axis=1)[:, CORNER_X],
                np.stack([ya, yb], axis=1)[:, CORNER_Y],
                np.stack([arr[:, 4], arr[:, 5]], axis=1)[:, CORNER_Z],
            ],
            axis=-1,
        )
        pix = self._project(corners)
        lo, hi = pix.min(axis=1), pix.max(axis=1)
        visible = (
            (hi[:, 0] >= self._bounds[0])
            & (lo[:, 0] <= self._bounds[2])
            & (hi[:, 1] >= self._bounds[1])
            & (lo[:, 1] <= self._bounds[3])
        ).tolist()
        shades = (
            np.minimum(cols[:, None, :] * (FACE_SHADES[None, :, None] * look.body), 255)
            .astype(np.int32)
            .tolist()
        )
        first = np.concatenate([[0], np.cumsum(counts)])
        for n, v in enumerate(vs):
            for p in range(int(first[n]), int(first[n + 1])):
                if not visible[p]:
                    continue
                pts = pix[p]
                side, top, near = shades[p]
                cv2.fillConvexPoly(frame, cv2.convexHull(pts), side, cv2.LINE_AA)
                cv2.fillConvexPoly(frame, pts[TOP_FACE], top, cv2.LINE_AA)
                cv2.fillConvexPoly(frame, pts[NEAR_FACE], near, cv2.LINE_AA)
                if v.cls == "bus_truck" and cached[n][2][p - int(first[n])] == "body":
                    self._bus_windows(
                        frame,
                        float(xa[p]),
                        float(xb[p]),
                        float(ya[p]),
                        float(yb[p]),
                        v.direction == "in",
                        look.body,
                    )
            if look.headlights:
                self._lamps(frame, v, float(x[n]), float(y_near[n]), v.direction == "in", look)

    def _ground_marks(
        self,
        frame: Image,
        vs: list[Vehicle],
        x: NDArray[np.float64],
        y_near: NDArray[np.float64],
        length: NDArray[np.float64],
        hw: NDArray[np.float64],
        height: NDArray[np.float64],
        look: Look,
    ) -> None:
        """Cast shadows, the dark contact patch under each body, and headlight pools.

        Shadows multiply and headlight pools add onto whatever is below them (asphalt grain,
        paint, street-light pools, a fading dusk), through layers, instead of being flat paint.
        """
        y0 = np.maximum(y_near, NEAR_CLIP_M)
        y1 = np.maximum(y_near + length, NEAR_CLIP_M)
        zero = np.zeros_like(x)
        foot = np.stack(
            [
                np.stack(c, axis=-1)
                for c in (
                    (x - hw, y0, zero),
                    (x + hw, y0, zero),
                    (x + hw, y1, zero),
                    (x - hw, y1, zero),
                )
            ],
            axis=1,
        )  # (n, 4, 3)
        foot_pix = self._project(foot)
        shade = self._shade_layer
        shade.fill(255)
        if look.shadow > 0.05:
            cast = int(255 * (1.0 - CAST_SHADOW_DEPTH * look.shadow))
            off = np.stack(
                [
                    SUN_SHADOW_PER_M[0] * height,
                    SUN_SHADOW_PER_M[1] * height,
                    zero,
                ],
                axis=-1,
            )
            tip_pix = self._project(foot + off[:, None, :])
            for a, b in zip(foot_pix, tip_pix, strict=True):
                cv2.fillConvexPoly(shade, cv2.convexHull(np.vstack([a, b])), (cast,) * 3)
        for pts in foot_pix:
            cv2.fillConvexPoly(shade, pts, (CONTACT_SHADE,) * 3, cv2.LINE_AA)
        cv2.multiply(frame, shade, dst=frame, scale=1.0 / 255.0)
        if look.headlights:
            light = self._light_layer
            light.fill(0)
            glow = int(HEADLIGHT_POOL * (1.0 - look.level))
            for n, v in enumerate(vs):
                if v.direction == "in" and v.cls != "bicycle":
                    self._light_pool(light, float(x[n]), float(y_near[n]), v, glow)
            cv2.add(frame, light, dst=frame)

    def _light_pool(self, layer: Image, x: float, y0: float, v: Vehicle, glow: int) -> None:
        reach = 6.0 if v.cls in ("car", "bus_truck") else 3.5
        spread = v.width_m / 2.0 + 0.7
        y0 = max(y0, NEAR_CLIP_M)
        y1 = max(y0 - reach, NEAR_CLIP_M)
        pool = np.array(
            [
                [x - v.width_m / 2, y0, 0],
                [x + v.width_m / 2, y0, 0],
                [x + spread, y1, 0],
                [x - spread, y1, 0],
            ]
        )
        cv2.fillConvexPoly(layer, self._project(pool), (glow, glow, glow), cv2.LINE_AA)

    def _cached(self, i: int) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str]]:
        """A vehicle's parts as an (n, 6) array, their base BGR colours and roles."""
        cached = self._parts.get(i)
        if cached is None:
            v = self.vehicles[i]
            ps = parts(v, poncho=i in self.ponchos)
            geom = np.array([p[:6] for p in ps], dtype=np.float64)
            cols = np.array([_bgr(self._colour(v, p[6]), 1.0) for p in ps], dtype=np.float64)
            cached = (geom, cols, [p[6] for p in ps])
            self._parts[i] = cached
        return cached

    @staticmethod
    def _colour(v: Vehicle, role: str) -> tuple[int, int, int]:
        if role == "body":
            return v.body_rgb
        if role == "accent":
            return v.accent_rgb
        if role == "helmet":
            return v.helmet_rgb
        if role == "glass":
            return (45, 55, 65)
        if role == "wheel":
            return (22, 22, 24)
        return (40, 38, 36)

    def _bus_windows(
        self,
        frame: Image,
        xa: float,
        xb: float,
        ya: float,
        yb: float,
        inbound: bool,
        k: float,
    ) -> None:
        glass = _bgr((50, 62, 72), k)
        side = xb if (xa + xb) / 2 < self.camera_x else xa
        band = np.array(
            [
                [side, ya + 0.6, 1.3],
                [side, yb - 0.6, 1.3],
                [side, yb - 0.6, 2.4],
                [side, ya + 0.6, 2.4],
            ]
        )
        cv2.fillConvexPoly(frame, self._project(band), glass, cv2.LINE_AA)
        z0, z1 = (1.1, 2.6) if inbound else (1.4, 2.5)
        end = np.array(
            [[xa + 0.2, ya, z0], [xb - 0.2, ya, z0], [xb - 0.2, ya, z1], [xa + 0.2, ya, z1]]
        )
        cv2.fillConvexPoly(frame, self._project(end), glass, cv2.LINE_AA)

    def _lamps(
        self, frame: Image, v: Vehicle, x: float, y_near: float, inbound: bool, look: Look
    ) -> None:
        if v.cls == "bicycle":
            return
        two_wheeler = v.cls == "motorbike"
        offsets = [0.0] if two_wheeler else [-(v.width_m / 2 - 0.3), v.width_m / 2 - 0.3]
        z = 0.9 if two_wheeler else 0.7
        pts = np.array(
            [[x + dx, y_near, z] for dx in offsets] + [[x + offsets[0] + 0.12, y_near, z]]
        )
        pix = self._project(pts)
        radius = max(1, int(abs(pix[-1, 0] - pix[0, 0])))
        strength = 1.0 - look.level
        for u, vv in pix[:-1]:
            if inbound:
                glow = _bgr((255, 250, 235), 0.35 + 0.4 * strength)
                cv2.circle(frame, (int(u), int(vv)), int(radius * 2.6), glow, -1, cv2.LINE_AA)
                cv2.circle(frame, (int(u), int(vv)), radius, (255, 255, 255), -1, cv2.LINE_AA)
            else:
                cv2.circle(
                    frame,
                    (int(u), int(vv)),
                    max(1, radius // 2 + 1),
                    (30, 30, 230),
                    -1,
                    cv2.LINE_AA,
                )

    def finish(
        self, frame: Image, t: float, segment: Segment, look: Look, out_size: tuple[int, int]
    ) -> Image:
        """Shade, weather, shake and noise; returns the output-sized frame (contiguous)."""
        fx = self.effects
        tree_strength = 0.0 if segment.rain else float(np.clip((look.level - 0.75) / 0.25, 0, 1))
        if tree_strength > 0:
            sway_x = round(SWAY_PX * 0.8 * np.sin(2 * np.pi * t / 3.7))
            sway_y = round(SWAY_PX * 0.5 * np.sin(2 * np.pi * t / 5.3 + 1.0))
            h, w = frame.shape[:2]
            layer = self.backdrop.tree_shade[
                SWAY_PX + sway_y : SWAY_PX + sway_y + h, SWAY_PX + sway_x : SWAY_PX + sway_x + w
            ]
            fx.shade(frame, layer, tree_strength)
        if segment.clouds and look.level > 0.75:
            fx.shade(frame, fx.cloud_layer(t), tree_strength)
        if segment.rain:
            fx.add_rain(frame, look.level)
        pad = self.backdrop.pad
        dx, dy = fx.shake(t, SHAKE_PX) if segment.shake else (0, 0)
        w, h = out_size
        out = np.ascontiguousarray(frame[pad + dy : pad + dy + h, pad + dx : pad + dx + w])
        if segment.noise > 0:
            fx.add_noise(out, "high" if look.level < 0.4 else "low")
        if segment.compression:
            out = fx.starve(out)
        return out
