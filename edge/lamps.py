"""Headlights in the dark: take out the road they light, tie the lamps to their vehicle.

At dusk and at night the road a vehicle's headlights light up is brighter than the learnt
background, so the subtractor calls it foreground. Tracked as part of the vehicle, a pool
moves the ground-contact point metres ahead of it and joins riders side by side into one blob
as wide as the lane; tracked on its own, it crosses the line before the vehicle and is counted
too (simulator: 12-27 false inbound counts per hundred vehicles at night, and seed 123 found
only 61 % of its inbound vehicles at night).

The lamp that casts a pool is easy to find: a headlight's core is the brightest thing in a dark
frame (the sensor saturates), and only a vehicle driving towards the camera shows one (one
going away shows red tail lights). So below each lamp, in a ground trapezoid that opens
towards the camera, pixels brighter than the background are taken out of the foreground. A
vehicle ahead in that zone stays unless its body is brighter than the road. The same test
without a lamp's zone ate flat-coloured bus bodies all over the frame (docs/performance.md,
27 November).

With its pool gone, a dark car's front between its lamps and its roof is as dark as the road:
the lamps were left as two round blobs, counted as motorbikes, and the roof's own crossing
was then taken for the vehicle behind its pool. So the lamps of one vehicle (side by side, a
car's width apart at most) are joined to each other and to the body just above them.

A bus or truck going away shows two red tail lights instead, a bus's width apart. With a dark
body at night it is the road's grey, and the subtractor finds its sides, the lane paint it
covers and speckle: pieces, counted as motorbikes or not at all. So above such a pair the
band between the lamps is filled as far up as the subtractor's marks stay dense
(``HeadlightFilter.fill_rears``).

The lamps also tell a motorbike from a bicycle, which by day only speed can: in the dark a
motorbike shows a headlight or a red tail light (the law wants them on), a bicycle as a rule
neither. So each track counts the dark frames it was seen in and those with a lamp inside its
box (``see_lamps``); the class rules read the share (edge/measure.py).
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.detect import Blob, regions
from edge.geometry import Homography
from edge.images import Image
from edge.track import Track

# Grey level of a headlight at analysis size (the white core, blurred by the downscale and
# ringed by its glare: 190-255 at dusk and night; 230 missed distant lamps, whose pools
# stayed until the lamp showed and then vanished from the blob at once). Larger bright regions
# than _LAMP_MAX_PX are lit signs or a white body under a street lamp, not a lamp.
LAMP_GREY = 200
_LAMP_MAX_PX = 60
# A pool pixel is this many grey levels brighter than the background (simulator: up to 45 at
# night, less at dusk). Above the upper bound it is the lamp's own glare.
_LIT_MIN = 8
_LIT_MAX = 90
# The pool's ground trapezoid: half-width at the lamp and at the far end, and its reach
# towards the camera (metres). A car's pool reaches ~6 m and spreads 0.7 m past each side;
# the lamp sits 0.7-0.9 m up, so mapped to the ground it lands beyond the vehicle's front,
# and the zone reaches further to make up for it. (5 m: the pool's far end stayed and was
# tracked; simulator seed 21 counted 16 % too many cars.)
_NEAR_HALF_M = 1.4
_FAR_HALF_M = 2.6
_REACH_M = 9.0
# Image pixels below the lamp used to find which way "towards the camera" is on the ground.
_PROBE_PX = 10.0
# Two lamps of one vehicle: their bottoms within this many rows, at most this far apart on
# the ground. A car's lamps are ~1.2 m apart. A bus's (~1.9 m) stay unpaired: its body holds
# together. At 2.4 m riders side by side were joined more often (class accuracy 0.0-0.7 points
# lower on the five simulator videos); riders closer than 1.6 m still are.
_PAIR_ROWS = 3
_PAIR_M = 1.6
# The body is joined from the lamps up by this much (metres at the lamps' row, across): the
# front of a car from its lamps to its bonnet. (0.4 m joined fewer cars: seed 42 12.5 % short.)
_BRIDGE_M = 0.8
# A tail light at analysis size: a few pixels whose red is this bright and this far above
# green and blue (simulator: saturated red, 1-3 px at 640 px). Dimmed bodies are duller
# (a red body at night stays under 110), and larger red regions are a lit body or a sign.
_TAIL_RED = 110
_TAIL_OVER = 60
_TAIL_MAX_PX = 30
# A lamp this close (px) to a track's box belongs to it: a headlight sits on the front edge.
_LAMP_MARGIN_PX = 2.0
# A bus or truck going away in the dark (HeadlightFilter.fill_rears). Its tail lights sit ~0.3 m
# inside its sides: a bus 2.35-2.5 m wide (2.5 m is the legal limit) has them 1.75-1.9 m apart,
# a car 1.1-1.3 m; mapped to the ground from 0.7 m up they read ~7 % wider (simulator buses:
# 1.86-2.07 m). Two riders side by side can be as far apart: up to 2.5 m, two of them 2.4-2.5 m
# apart were filled as one bus (seed 42). The band read above the lamps reaches the vehicle's
# sides (_REAR_SIDE_M), where a dark body's edges show best; the fill stays between the lamps,
# so two buses side by side stay two.
_REAR_PAIR_M = (1.7, 2.1)
_REAR_SIDE_M = 0.3
# How far up the band is read (ground m from the lamps): a bus's roof seen from 11 m projects
# well beyond its 12 m footprint.
_REAR_REACH_M = 20.0
# A row of the band belongs to the vehicle while the subtractor marked (foreground or shadow)
# this share of it, averaged over _REAR_ROWS rows: a dark body at night 0.2-0.3, the road
# between vehicles less than 0.1 (simulator, seed 7).
_REAR_DENSITY = 0.15
_REAR_ROWS = 6
_MARKED = 100  # raw subtractor output at or above: foreground (255) or shadow (127)
# Just above the lamps a bus's rear window and face can be as dark as the road (a green bus at
# dusk: 43 rows at 0.04-0.16): a gap up to this many pair widths tall is bridged there, and
# only there, so the walk does not run on into the vehicle ahead.
_REAR_GAP = 1.0
# Two riders side by side with their tail lights a bus's width apart leave the middle third
# of the band empty (0.0-0.04); a bus's 0.35-0.9. Not always: riders ahead or a cast shadow
# at dusk can fill it (seeds 7 and 42: one pair each, then read as a car).
_REAR_MIDDLE = 0.15
# Shorter (ground m from the lamps to the top of the walk) is not a bus. Not 6 m: a grey bus at
# dusk read 4.7-6.0 m, so it was filled in some frames and not in others, and its pieces were
# counted (seed 123: one as a bicycle).
_REAR_MIN_M = 4.0


class HeadlightFilter:
    """Applies both steps to a foreground mask, in place (``apply``)."""

    def __init__(self, homography: Homography, roi: Image | None) -> None:
        self._homography = homography
        self._to_image = np.linalg.inv(homography.matrix)
        self._roi = roi
        self._zone: Image | None = None

    def lamps(self, grey: Image) -> list[Blob]:
        """Each lamp's box; its ``contact`` (bottom centre) is where its pool begins."""
        hot = cv2.inRange(grey, LAMP_GREY, 255)
        if self._roi is not None:
            cv2.bitwise_and(hot, self._roi, dst=hot)
        return regions(hot, max_px=_LAMP_MAX_PX)

    def tail_lamps(self, frame: Image) -> list[Blob]:
        """Red tail lights in a BGR frame: the lamps of vehicles going away. About 1 ms at
        640 px, most of it splitting the channels: testing only the pixels bright in red was
        slower, a night frame has ~14,000 of them (street lights, glare)."""
        b, g, r = cv2.split(frame)
        over = cv2.subtract(r, cv2.max(g, b))
        red = cv2.inRange(r, _TAIL_RED, 255)
        cv2.bitwise_and(red, cv2.inRange(over, _TAIL_OVER, 255), dst=red)
        if self._roi is not None:
            cv2.bitwise_and(red, self._roi, dst=red)
        return regions(red, max_px=_TAIL_MAX_PX)

    def zone(self, lamp: Blob) -> Image:
        """The pool's trapezoid below one lamp, as an int32 image polygon."""
        u, v = lamp.contact
        here, below = self._homography.to_ground(np.array([[u, v], [u, v + _PROBE_PX]]))
        ahead = below - here
        ahead /= max(float(np.hypot(*ahead)), 1e-9)
        across = np.array([-ahead[1], ahead[0]])
        far = here + _REACH_M * ahead
        ground = np.array(
            [
                here - _NEAR_HALF_M * across,
                here + _NEAR_HALF_M * across,
                far + _FAR_HALF_M * across,
                far - _FAR_HALF_M * across,
            ]
        )
        return np.round(self._image(*ground)).astype(np.int32)

    def apply(
        self, grey: Image, background: Image, fg: Image, lamps: list[Blob] | None = None
    ) -> int:
        """Erase the pools and join each vehicle's lamps to it; returns pixels erased.
        ``lamps``: the frame's headlights when already found (default: found here)."""
        lamps = self.lamps(grey) if lamps is None else lamps
        if not lamps:
            return 0
        gone = self._erase_pools(lamps, grey, background, fg)
        for x0, y0, x1, y1 in self._vehicles(lamps):
            top = round(y0 - _BRIDGE_M / self._homography.across_m_per_px((x0 + x1) / 2, y1))
            cv2.rectangle(fg, (x0, max(top, 0)), (x1 - 1, y1 - 1), 255, -1)
        return gone

    def _erase_pools(self, lamps: list[Blob], grey: Image, background: Image, fg: Image) -> int:
        if self._zone is None or self._zone.shape != fg.shape:
            self._zone = np.zeros(fg.shape, np.uint8)
        zone = self._zone
        zone.fill(0)
        for lamp in lamps:
            cv2.fillConvexPoly(zone, self.zone(lamp), 255)
        x, y, w, h = cv2.boundingRect(zone)
        if w == 0 or h == 0:
            return 0
        win = np.s_[y : y + h, x : x + w]
        lit = cv2.inRange(cv2.subtract(grey[win], background[win]), _LIT_MIN, _LIT_MAX)
        cv2.bitwise_and(lit, zone[win], dst=lit)
        cv2.bitwise_and(lit, fg[win], dst=lit)
        gone = lit > 0
        fg[win][gone] = 0
        return int(np.count_nonzero(gone))

    def _vehicles(self, lamps: list[Blob]) -> list[tuple[int, int, int, int]]:
        """Lamps grouped into vehicles, each as the box around its lamps: a lamp pairs with
        the nearest one to its right that can be the same vehicle's; two make a vehicle."""
        lamps = sorted(lamps, key=lambda la: (la.x0, la.y1))
        used = [False] * len(lamps)
        out = []
        for i, a in enumerate(lamps):
            if used[i]:
                continue
            box = (a.x0, a.y0, a.x1, a.y1)
            for j in range(i + 1, len(lamps)):
                b = lamps[j]
                if not used[j] and self._pair(a, b):
                    used[j] = True
                    box = (a.x0, min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1))
                    break
            out.append(box)
        return out

    def _pair(self, a: Blob, b: Blob) -> bool:
        if abs(a.y1 - b.y1) > _PAIR_ROWS:
            return False
        pa, pb = self._homography.to_ground(np.array([a.contact, b.contact]))
        return float(np.hypot(*(pb - pa))) <= _PAIR_M

    def fill_rears(self, tails: list[Blob], raw: Image, fg: Image) -> int:
        """Give a large vehicle going away in the dark back its body, in place; returns how
        many were filled.

        A bus with a dark body at night is the road's grey: the subtractor finds its sides,
        the lane paint it covers and speckle, which were tracked as pieces and counted as
        motorbikes or not at all (simulator seed 7: 3 of the 8 buses it lost). Its two red tail
        lights show where its rear is and how wide it is, so above each pair a bus's width
        apart the band between them is filled as far up as the subtractor's marks stay dense.
        Filled in ``raw`` too: the roof rules read the subtractor's output (``top_fill``).
        """
        if len(tails) < 2:
            return 0
        tails = sorted(tails, key=lambda la: la.x0)
        used = [False] * len(tails)
        filled = 0
        for i, a in enumerate(tails):
            if used[i]:
                continue
            for j in range(i + 1, len(tails)):
                b = tails[j]
                if used[j] or abs(a.y1 - b.y1) > _PAIR_ROWS:
                    continue
                body = self.rear_body(a, b, raw)
                if body is not None:
                    cv2.fillConvexPoly(fg, body, 255)
                    cv2.fillConvexPoly(raw, body, 255)
                    used[j] = True
                    filled += 1
                    break
        return filled

    def rear_body(self, a: Blob, b: Blob, raw: Image) -> Image | None:
        """The image polygon (int32) of the body above two tail lights (``a`` left of ``b``),
        or None if they are not a large vehicle's."""
        pa, pb = self._homography.to_ground(np.array([a.contact, b.contact]))
        gap = float(np.hypot(*(pb - pa)))
        if not _REAR_PAIR_M[0] <= gap <= _REAR_PAIR_M[1]:
            return None
        across = (pb - pa) / gap
        away = np.array([-across[1], across[0]])
        lamp_row = max(a.y1, b.y1)
        if self._image(pa + away)[0, 1] > lamp_row:  # "away" must go up the image
            away = -away
        side = _REAR_SIDE_M * across
        (xl0, yl0), (xr0, yr0), (xr1, yr1), (xl1, yl1), (fl, _), (fr, _) = self._image(
            pa - side,
            pb + side,
            pb + side + _REAR_REACH_M * away,
            pa - side + _REAR_REACH_M * away,
            pa,
            pb,
        )
        if min(yl0 - yl1, yr0 - yr1) < 1.0:  # a band that does not go up the image
            return None
        height, width = raw.shape[:2]
        y_far = max(int(np.ceil(max(yl1, yr1))), 0)
        y_near = min(int(lamp_row), height - 1)
        if y_near - y_far < _REAR_ROWS:
            return None
        ys = np.arange(y_near, y_far - 1, -1)  # up from the lamps
        xl = np.clip(np.round(xl0 + (xl1 - xl0) * (ys - yl0) / (yl1 - yl0)), 0, width - 1)
        xr = np.clip(np.round(xr0 + (xr1 - xr0) * (ys - yr0) / (yr1 - yr0)), 0, width - 1)
        xl, xr = xl.astype(np.intp), xr.astype(np.intp)
        x_lo = int(xl.min())
        marked = (raw[y_far : y_near + 1, x_lo : int(xr.max()) + 1] >= _MARKED).astype(np.int32)
        cum = np.hstack([np.zeros((marked.shape[0], 1), np.int32), np.cumsum(marked, axis=1)])
        rows = ys - y_far

        def share(left: Image, right: Image) -> Image:
            right = np.maximum(right, left)
            n = cum[rows, right - x_lo + 1] - cum[rows, left - x_lo]
            return n / (right - left + 1)

        dense = share(xl, xr)
        third = np.maximum((xr - xl) // 3, 1)
        middle = share(xl + third, xr - third)
        # Walk up while the rows stay dense; above the lamps a gap is bridged (_REAR_GAP).
        run = np.convolve(dense, np.full(_REAR_ROWS, 1.0 / _REAR_ROWS), "valid")
        good = [True] * (_REAR_ROWS - 1) + (run >= _REAR_DENSITY).tolist()
        gap_rows = _REAR_GAP * (b.x1 - a.x0)
        top = 0
        for k, ok in enumerate(good):
            if ok:
                top = k
            elif k - top > (gap_rows if top <= gap_rows else 0):
                break
        if top < _REAR_ROWS or middle[: top + 1].mean() < _REAR_MIDDLE:
            return None
        centre = self._homography.to_ground(
            np.array([[(xl[0] + xr[0]) / 2, ys[0]], [(xl[top] + xr[top]) / 2, ys[top]]])
        )
        if float(np.hypot(*(centre[1] - centre[0]))) < _REAR_MIN_M:
            return None
        # Between the lamps, down to the bumper and up to the top of the walk; the far edge
        # narrows with the band.
        mid, half = (xl[top] + xr[top]) / 2.0, (xr[top] - xl[top]) / 2.0 * (fr - fl) / (xr0 - xl0)
        return np.round(
            [[fl, y_near + 2], [fr, y_near + 2], [mid + half, ys[top]], [mid - half, ys[top]]]
        ).astype(np.int32)

    def _image(self, *ground: Image) -> Image:
        """Ground points (m) to analysis pixels."""
        pts = np.hstack([np.array(ground), np.ones((len(ground), 1))]) @ self._to_image.T
        return pts[:, :2] / pts[:, 2:3]


def see_lamps(tracks: list[Track], lamps: list[Blob]) -> None:
    """One dark frame for each track matched in it, and one lit frame if a lamp is in its box.

    All boxes against all lamp centres at once: in dense night traffic (40 tracks, 35 lamps)
    a loop over the pairs cost 0.21 ms a frame, this 0.08 ms."""
    live = [tr for tr in tracks if tr.matched_now]
    for tr in live:
        tr.dark_frames += 1
    if not live or not lamps:
        return
    m = _LAMP_MARGIN_PX
    box = np.array([tr.box for tr in live])[:, None, :]  # (tracks, 1, 4)
    lamp = np.array([(la.x0, la.y0, la.x1, la.y1) for la in lamps], np.float64)
    cx = ((lamp[:, 0] + lamp[:, 2]) / 2.0)[None, :]  # (1, lamps)
    cy = ((lamp[:, 1] + lamp[:, 3]) / 2.0)[None, :]
    inside = (
        (cx >= box[..., 0] - m)
        & (cx <= box[..., 2] + m)
        & (cy >= box[..., 1] - m)
        & (cy <= box[..., 3] + m)
    )
    lit = np.atleast_1d(inside.any(axis=1))  # per track: a lamp in its box
    for tr, on in zip(live, lit.tolist(), strict=True):
        tr.lamp_frames += on
