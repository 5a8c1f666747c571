"""Moving the scheduled vehicles along the road, frame by frame.

Each direction is a stream of vehicles that follow their leader with the Intelligent Driver
Model; a leader is the nearest vehicle ahead whose lateral band overlaps (motorbikes ride side by
side and pass each other in the same lane, as they do in Vietnam). A vehicle enters only when
there is room at the entry, so the ground never holds two bodies in one place. Positions are
exact per frame, which is what the ground truth is computed from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulators.video.scene import RoadLayout
from simulators.video.vehicles import SPECS, Vehicle

# Extra lateral clearance (m) when deciding whether two vehicles share a band: riders keep
# about a shoulder's width from the one beside them.
LATERAL_CLEARANCE_M = 0.3
# A vehicle that cannot enter for this long gives up (it took another road); counted.
MAX_WAIT_S = 20.0


@dataclass(frozen=True, slots=True)
class FrameState:
    """Where every vehicle on the road is at one frame.

    ``index`` points into the schedule; ``x`` is the lateral centre; ``y_near`` the ground
    distance of the footprint edge nearest the camera (the ground-contact point of C2) and
    ``y_far`` the other end.
    """

    frame: int
    time_s: float
    index: NDArray[np.int64]
    x: NDArray[np.float64]
    y_near: NDArray[np.float64]
    y_far: NDArray[np.float64]


class TrafficSim:
    """Steps the schedule at a fixed frame rate, starting at ``start_frame`` (may be negative:
    a warm-up so the first rendered frame already shows a road in use)."""

    def __init__(
        self,
        vehicles: Sequence[Vehicle],
        layout: RoadLayout,
        *,
        fps: float,
        start_frame: int = 0,
    ) -> None:
        self.vehicles = list(vehicles)
        self.layout = layout
        self.fps = fps
        self.dt = 1.0 / fps
        self.frame = start_frame - 1
        n = len(self.vehicles)
        self._length = np.array([v.length_m for v in self.vehicles])
        self._width = np.array([v.width_m for v in self.vehicles])
        self._x0 = np.array([v.x_m for v in self.vehicles])
        self._sway = np.array([v.sway_m for v in self.vehicles])
        self._omega = np.array([2 * math.pi / v.sway_period_s for v in self.vehicles])
        self._phase = np.array([v.sway_phase for v in self.vehicles])
        self._v0 = np.array([v.speed_ms for v in self.vehicles])
        specs = [SPECS[v.cls] for v in self.vehicles]
        self._accel = np.array([s.accel for s in specs])
        self._brake = np.array([s.brake for s in specs])
        self._headway = np.array([s.headway_s for s in specs])
        self._gap = np.array([s.gap_m for s in specs])
        self._inbound = np.array([v.direction == "in" for v in self.vehicles], dtype=bool)
        spans = {d: layout.direction_span(d) for d in ("in", "out")}
        # Weaving never takes a body outside its direction's lanes (nor off every counting line).
        self._x_lo = np.array([spans[v.direction][0] + v.width_m / 2 for v in self.vehicles])
        self._x_hi = np.array([spans[v.direction][1] - v.width_m / 2 for v in self.vehicles])
        self._s = np.zeros(n)  # distance travelled by the front since entry
        self._v = np.zeros(n)
        self._active = np.zeros(n, dtype=bool)
        self._done = np.zeros(n, dtype=bool)
        self._pending = sorted(range(n), key=lambda i: self.vehicles[i].arrival_s)
        travel = layout.spawn_far_m - layout.spawn_near_m
        self._travel_end = travel + self._length + 1.0
        self.gave_up: list[int] = []

    def lateral(self, t: float, idx: NDArray[np.int64]) -> NDArray[np.float64]:
        x = self._x0[idx] + self._sway[idx] * np.sin(self._omega[idx] * t + self._phase[idx])
        clipped: NDArray[np.float64] = np.clip(x, self._x_lo[idx], self._x_hi[idx])
        return clipped

    def _band_overlap(
        self, idx_a: NDArray[np.int64], idx_b: NDArray[np.int64], t: float
    ) -> NDArray[np.bool_]:
        xa, xb = self.lateral(t, idx_a), self.lateral(t, idx_b)
        reach = (
            (self._width[idx_a][:, None] + self._width[idx_b][None, :]) / 2.0
            + self._sway[idx_a][:, None]
            + self._sway[idx_b][None, :]
            + LATERAL_CLEARANCE_M
        )
        overlap: NDArray[np.bool_] = np.abs(xa[:, None] - xb[None, :]) < reach
        return overlap

    def _admit(self, t: float) -> None:
        still: list[int] = []
        for n, i in enumerate(self._pending):
            veh = self.vehicles[i]
            if veh.arrival_s > t:
                # The schedule is in arrival order: nobody after this one has arrived either.
                still.extend(self._pending[n:])
                break
            if t - veh.arrival_s > MAX_WAIT_S:
                self.gave_up.append(i)
                continue
            same = np.flatnonzero(self._active & (self._inbound == self._inbound[i]))
            v_start = self._v0[i]
            if len(same):
                me = np.array([i])
                over = self._band_overlap(me, same, t)[0]
                others = same[over]
                if len(others):
                    rear = self._s[others] - self._length[others]
                    need = self._gap[i] + 0.6 * self._headway[i] * self._v0[i]
                    if rear.min() < need:
                        still.append(i)
                        continue
                    v_start = min(v_start, float(self._v[others[np.argmin(rear)]]) + 1.0)
            self._active[i] = True
            self._s[i] = 0.0
            self._v[i] = v_start
        self._pending = still

    def _follow(self, t: float) -> None:
        for inbound in (True, False):
            idx = np.flatnonzero(self._active & (self._inbound == inbound))
            if len(idx) == 0:
                continue
            s, v = self._s[idx], self._v[idx]
            overlap = self._band_overlap(idx, idx, t)
            gap = s[None, :] - self._length[idx][None, :] - s[:, None]  # [i, j]: j ahead of i
            ahead = (s[None, :] > s[:, None]) & overlap
            gap = np.where(ahead, gap, np.inf)
            lead = np.argmin(gap, axis=1)
            lead_gap = gap[np.arange(len(idx)), lead]
            has_lead = np.isfinite(lead_gap)
            dv = np.where(has_lead, v - v[lead], 0.0)
            a_max, b = self._accel[idx], self._brake[idx]
            s_star = self._gap[idx] + np.maximum(
                0.0, v * self._headway[idx] + v * dv / (2.0 * np.sqrt(a_max * b))
            )
            interaction = np.where(has_lead, (s_star / np.maximum(lead_gap, 0.1)) ** 2, 0.0)
            acc = a_max * (1.0 - (v / self._v0[idx]) ** 4 - interaction)
            acc = np.maximum(acc, -8.0)  # physical braking limit
            v_new = np.maximum(v + acc * self.dt, 0.0)
            s_new = s + v_new * self.dt
            # Never drive into the leader's body, whatever the model says.
            limit = np.where(
                has_lead, s[lead] + v[lead] * self.dt - self._length[idx][lead] - 0.3, np.inf
            )
            s_new = np.minimum(s_new, np.maximum(limit, s))
            v_new = np.where(s_new < s + v_new * self.dt, (s_new - s) / self.dt, v_new)
            self._s[idx], self._v[idx] = s_new, v_new
        gone = self._active & (self._s > self._travel_end)
        self._active[gone] = False
        self._done[gone] = True

    def step(self) -> FrameState:
        """Advance one frame and return where everyone is."""
        self.frame += 1
        t = self.frame * self.dt
        self._follow(t)
        self._admit(t)
        idx = np.flatnonzero(self._active)
        x = self.lateral(t, idx)
        s, length = self._s[idx], self._length[idx]
        inbound = self._inbound[idx]
        front = np.where(inbound, self.layout.spawn_far_m - s, self.layout.spawn_near_m + s)
        y_near = np.where(inbound, front, front - length)
        y_far = np.where(inbound, front + length, front)
        return FrameState(self.frame, t, idx, x, y_near, y_far)

    def speed(self, idx: NDArray[np.int64]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = self._v[idx]
        return out
