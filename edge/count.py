"""Line crossings with direction, per lane, and each crossing's class and speed.

A track crosses a line when its ground-contact point (bottom centre of the box, contract C2)
changes side, within the segment, and each track counts at most once per line: a motorbike
weaving on the line would otherwise be counted at every wobble. A small dead band around the
line keeps box jitter from flipping the side. The class is decided a moment after the crossing
(or when the track ends), from the median of the sizes seen while the vehicle was fully in view,
because at the instant of crossing a vehicle entering the frame is only partly visible.
"""

from __future__ import annotations

import statistics
from collections import Counter as Tally
from dataclasses import dataclass

import numpy as np

from edge.config import ClassificationConfig
from edge.geometry import Homography, Line
from edge.images import DARK_LUMA
from edge.measure import (
    LAMP_MIN_FRAMES,
    MIN_SAMPLES,
    best_resolved,
    box_size_m,
    classify,
    own_samples,
    track_max_speed_kmh,
    track_speed_kmh,
)
from edge.track import LastCount, Track

# Side changes closer to the line than this (analysis px) are not trusted as a new side.
_DEAD_BAND_PX = 1.0
# The crossing point may lie this far beyond a segment end (fraction of its length): a wide
# vehicle's contact point can pass just outside a lane line's end.
_SEGMENT_SLACK = 0.05
# Seconds after the crossing at which the class is decided if the track is still alive.
SETTLE_S = 0.8
# Two crossings of one line in one direction closer than this in time and in position along the
# line (ground metres) are one vehicle seen as two fragments. Two motorbikes side by side are at
# least ~0.8 m apart (handlebar to handlebar), so they stay two.
_TWIN_S = 0.5
_TWIN_M = 0.5
# In the dark a vehicle's headlight pool runs ahead of it, is often tracked on its own, and
# crosses the line first at the vehicle's own place along it (simulator: 3.5 m ahead of a
# rider, 6 m ahead of a car, up to ~0.8 s at town speeds). In a dark scene (DARK_LUMA), a
# crossing this soon after one this close, the same way, is the vehicle behind its pool.
_POOL_TWIN_S = 0.8
_POOL_TWIN_M = 0.6
# A track must have been matched this often, and have travelled this far across the line
# (analysis px) since it was first seen, for its side change to count.
_MIN_HITS = 3
_MIN_TRAVEL_PX = 4.0
# A track back on its old side for this many matched frames in a row when the class is decided
# voids its crossing (fewer: the last flicker of a track losing its vehicle, seen on buses).
_BACK_MIN_HITS = 3
# A vehicle crossing the line has moved this far (ground m) within the track's remembered
# path (Counter._travel_m).
_MIN_TRAVEL_M = 2.5
# A box wider than any vehicle (m) is several blobs merged at a distance; its bottom edge
# jumps when they part, which is not a crossing.
_MAX_WIDTH_M = 5.0
# ... unless it is a bus with riders beside it: this long (apparent m) and a bus's roof.
_BUS_COMPANY_MIN_LENGTH_M = 20.0
# ... or, for a vehicle too big for the view to be ever seen whole, this many matched frames.
_MIN_HITS_CUT = 12
# A vehicle whose contact point is this close ahead (m, along the heading), and whose body
# overlaps this one's path (centres closer sideways than half their widths together plus this
# clearance, m: riders keep about a shoulder's width apart and weave ~0.3 m), sets its pace.
_LEADER_M = 8.0
_LEADER_CLEARANCE_M = 0.6
# The contact point may move this fast (m/s, plus _JUMP_SLACK_M) across the line between two
# matched frames; faster is a track that jumped to another vehicle (one ahead left the view or
# was occluded), whose "crossing" runs against the traffic.
_MAX_STEP_MPS = 25.0
_JUMP_SLACK_M = 0.3


@dataclass(frozen=True, slots=True)
class Crossing:
    time: float  # seconds (the pipeline's clock: frame time)
    line: str
    direction: str  # "in" | "out"
    cls: str  # motorbike | car | bus_truck | bicycle
    speed_kmh: float | None
    track: int


@dataclass(slots=True)
class _Pending:
    time: float
    line: str
    direction: str
    track: Track
    speed_kmh: float | None
    led: bool = False  # another vehicle close ahead in its path when it crossed


def _leap_m(dt: float | np.ndarray) -> float | np.ndarray:
    """The longest step (ground m) a vehicle makes in ``dt`` seconds; longer is a leap: the
    track took over another object, or its box's edge jumped to a merged blob."""
    return _MAX_STEP_MPS * np.maximum(dt, 0.0) + _JUMP_SLACK_M


def _since_leap(times: np.ndarray, g: np.ndarray, from_line: np.ndarray, side: int) -> int:
    """Index of the path's first point after its last leap that breaks where the track
    came from (``Counter._path`` gives the arrays): a leap back toward the side it came from
    (the track took over an object behind: seed 21's outbound buses), or a leap forward that
    returns from such a leap (a box edge that leapt to a blob at the view's edge and back: on
    seed 123's shaking camera those were counted against the traffic). A leap forward alone
    (a headlight pool joining the blob ahead of a vehicle) does not change where the vehicle
    came from.
    """
    if len(times) < 2:
        return 0
    step = np.hypot(*np.diff(g, axis=0).T)
    leaps = np.flatnonzero(step > _leap_m(np.diff(times)))
    if not leaps.size:
        return 0
    across = np.diff(from_line)[leaps] * side
    for j in range(len(leaps) - 1, -1, -1):
        if across[j] < 0 or (j > 0 and across[j - 1] < 0):
            return int(leaps[j]) + 1
    return 0


class Counter:
    def __init__(
        self, lines: list[Line], homography: Homography, cfg: ClassificationConfig
    ) -> None:
        self.lines = lines
        self.homography = homography
        self.cfg = cfg
        self.pending: list[_Pending] = []
        self.recent: list[tuple[float, str, str, np.ndarray]] = []
        self.twins = 0
        self.rejected = 0  # crossings of things too small, too brief or too fast for a vehicle
        self.reasons: Tally[str] = Tally()  # rejections by reason (evaluation output)
        self.luma: float | None = None  # the scene's brightness, kept up by the pipeline

    def _twin(self, line: Line, direction: str, point: np.ndarray, t: float) -> bool:
        """Is this crossing a fragment of one counted a moment ago at the same place?

        Compared by where they cross along the line (on the ground): fragments of one vehicle
        cross at the same lateral position, one behind the other. In the dark, so do a
        headlight pool and the vehicle behind it, further apart in time (_POOL_TWIN_S).
        """
        dark = self.luma is not None and self.luma < DARK_LUMA
        window, reach = (_POOL_TWIN_S, _POOL_TWIN_M) if dark else (_TWIN_S, _TWIN_M)
        self.recent = [r for r in self.recent if t - r[0] <= max(_TWIN_S, _POOL_TWIN_S)]
        here = self.homography.to_ground(line.at(line.along(point)))[0]
        for t0, name, d, other in self.recent:
            if name == line.name and d == direction and t - t0 <= window:
                there = self.homography.to_ground(line.at(line.along(other)))[0]
                if float(np.hypot(*(there - here))) < reach:
                    self.twins += 1
                    return True
        return False

    def observe(self, tracks: list[Track], t: float) -> None:
        """Note side changes of the tracks matched in this frame."""
        for tr in tracks:
            if not tr.matched_now:
                continue
            point = np.asarray(tr.contact)
            for line in self.lines:
                s = line.side(point)
                if abs(s) <= _DEAD_BAND_PX:
                    continue
                side = 1 if s > 0 else -1
                before = tr.sides.get(line.name)
                tr.sides[line.name] = side
                run = tr.side_hits.get(line.name, 0) + 1 if before == side else 1
                tr.side_hits[line.name] = run
                if before is None or before == side:
                    continue
                if line.name in tr.counted:
                    if self._jumped(tr, line):
                        # Back across in one leap: the track left the vehicle it counted for
                        # the one behind. That crossing stands, and the one behind may count.
                        tr.switched.add(line.name)
                        tr.counted.discard(line.name)
                    continue
                pos = line.along(point)
                if not -_SEGMENT_SLACK <= pos <= 1 + _SEGMENT_SLACK:
                    continue
                if not self._came_across(tr, line, side) or not self._steady(tr, line, side):
                    continue
                tr.counted.add(line.name)
                direction = "in" if side > 0 else "out"
                inside = 0.0 <= pos <= 1.0
                if self._twin(line, direction, point, t) or self._next_lane(
                    tr, line, direction, t, inside
                ):
                    continue
                tr.last_count = LastCount(t, direction, line.name, inside)
                self.recent.append((t, line.name, direction, point))
                self.pending.append(
                    _Pending(
                        t,
                        line.name,
                        direction,
                        tr,
                        track_speed_kmh(tr, self.homography),
                        self._led(tr, tracks),
                    )
                )

    def _next_lane(self, tr: Track, line: Line, direction: str, t: float, inside: bool) -> bool:
        """Did this track just count on another line the same way (the lane beside)?

        Lane lines of one approach meet end to end, and a contact point on their shared end
        (within the segment slack of both) changed side of both at once: seed 21 counted 54
        vehicles twice that way, a sixteenth of its traffic. The vehicle counts once, on the
        line whose segment holds its contact point (the first, if both or neither do).
        """
        last = tr.last_count
        if last is None or last.direction != direction or t - last.t > _TWIN_S:
            return False
        if inside and not last.inside:
            for p in self.pending:
                if p.track is tr and p.line == last.line and p.direction == direction:
                    p.line = line.name
                    tr.last_count = last._replace(line=line.name, inside=True)
        return True

    def _led(self, tr: Track, tracks: list[Track]) -> bool:
        """Is another vehicle close ahead of this one, in its path (on the ground)?

        "In its path" by both widths: with a fixed 1 m sideways, a motorbike behind a bus or a
        car offset by more than a metre, or behind a rider weaving, was "on an open road", and
        read as a bicycle when held up (seeds 42 and 99: +81 % and +29 % bicycles).
        """
        others = [o for o in tracks if o is not tr and o.hits >= _MIN_HITS]
        if not others:
            return False
        vx, vy = tr.velocity
        if vx == 0.0 and vy == 0.0:
            return False
        cx, cy = tr.contact
        g = self.homography.to_ground(
            np.array([[cx, cy], [cx + vx * 0.1, cy + vy * 0.1], *(o.contact for o in others)])
        )
        heading = g[1] - g[0]
        norm = float(np.hypot(*heading))
        if norm <= 1e-9:
            return False
        heading /= norm
        rel = g[2:] - g[0]
        ahead = rel @ heading
        lateral = np.abs(rel @ np.array([-heading[1], heading[0]]))
        mine = box_size_m(tr.box, self.homography)[0]
        widths = np.array([box_size_m(o.box, self.homography)[0] for o in others])
        reach = (mine + widths) / 2.0 + _LEADER_CLEARANCE_M
        return bool(np.any((ahead > 0) & (ahead < _LEADER_M) & (lateral < reach)))

    def _bus_with_company(self, width: float, length: float, top: float) -> bool:
        """A box too wide for one vehicle that is a bus with riders beside it.

        Buses in the left inbound lane (simulator seeds 21 and 99) measured 5.1-7 m wide with
        the motorbikes riding along them, and were rejected as several vehicles merged; their
        roof (top fill x width) was 2.7-6 m and their apparent length 25-40 m, where blobs
        merged at a distance are neither.
        """
        return length >= _BUS_COMPANY_MIN_LENGTH_M and top * width >= self.cfg.bus_truck_min_roof_m

    def _came_across(self, tr: Track, line: Line, side: int) -> bool:
        """A real crossing: the track travelled from the other side, not a box that jumped.

        A blob that splits or merges (a shadow, a headlight pool, two riders parting) moves
        its box's bottom edge by several pixels in one frame, back and forth across a line.
        Measured from the point farthest on the other side since the track's last leap
        (``_since_leap``), not from its first point: a track born on a vehicle beyond the line
        and then taken over by a bus entering the view behind it started on the far side, and
        the bus's real crossing was refused (seed 21: 7 of 19 buses never seen crossing were
        such outbound buses).
        """
        if tr.hits < _MIN_HITS:
            return False
        times, px, g, from_line = self._path(tr, line)
        past = px[_since_leap(times, g, from_line, side) :]
        travelled = float(np.max((np.asarray(tr.contact) - past) @ line.normal_in * side))
        return travelled >= _MIN_TRAVEL_PX

    def _path(self, tr: Track, line: Line) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The remembered path, mapped once: times, analysis px, ground m, and signed ground m
        from the line (+ on the in side)."""
        times = np.array([t for t, _, _ in tr.path])
        px = np.array([(x, y) for _, x, y in tr.path])
        g = self.homography.to_ground(px)
        return times, px, g, self._side_of_ground(line, g)

    def _jumped(self, tr: Track, line: Line) -> bool:
        """Was the track's last step across the line longer than a vehicle can go?"""
        if len(tr.path) < 2:
            return False
        (t0, x0, y0), (t1, x1, y1) = tr.path[-2], tr.path[-1]
        s0, s1 = self._ground_side_m(line, np.array([[x0, y0], [x1, y1]]))
        return abs(float(s1 - s0)) > float(_leap_m(t1 - t0))

    def _steady(self, tr: Track, line: Line, side: int) -> bool:
        """The side change was a step of a moving vehicle, not a jump or a drift backwards.

        Its last step across the line is no longer than a fast vehicle covers in that time,
        and the track's smoothed velocity points the way it crossed.
        """
        if len(tr.path) < 2 or self._jumped(tr, line):
            return False
        return float(np.asarray(tr.velocity) @ line.normal_in) * side > 0

    def _travel_m(self, tr: Track, line_name: str, direction: str) -> float:
        """Ground metres the track moved (noise wanders in place): from where it was first
        seen, or across the line the way it crossed from the farthest point on the other side
        since its last leap (``_since_leap``), whichever is more.

        The second, for the reason in ``_came_across``: a car in a track taken over from one
        that started beyond the line was rejected as "static" (seed 7, 49.7 s). The first still
        counts: measured across the line alone, 1-3 % of each video's vehicles went uncounted.
        """
        line = next(x for x in self.lines if x.name == line_name)
        times, _, g, from_line = self._path(tr, line)
        side = from_line[_since_leap(times, g, from_line, 1 if direction == "in" else -1) :]
        across = side[-1] - np.min(side) if direction == "in" else np.max(side) - side[-1]
        return max(float(np.hypot(*(g[-1] - g[0]))), float(across))

    def _ground_side_m(self, line: Line, points: np.ndarray) -> np.ndarray:
        """Signed ground distance (m) of analysis-pixel points from the line, + on the in side.

        In metres rather than pixels because perspective shrinks distances with depth.
        """
        return self._side_of_ground(line, self.homography.to_ground(points))

    def _side_of_ground(self, line: Line, g: np.ndarray) -> np.ndarray:
        """``_ground_side_m`` of points already on the ground (m)."""
        ends = self.homography.to_ground(np.vstack([line.a, line.b, line.a + line.normal_in]))
        d = ends[1] - ends[0]
        normal = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-9)
        if float((ends[2] - ends[0]) @ normal) < 0:
            normal = -normal
        return np.asarray((g - ends[0]) @ normal, dtype=np.float64)

    def settle(self, t: float, ended: list[Track], *, final: bool = False) -> list[Crossing]:
        """Crossings whose class can now be decided (settle time passed or track ended)."""
        ended_ids = {tr.id for tr in ended}
        done: list[Crossing] = []
        keep: list[_Pending] = []
        for p in self.pending:
            if final or p.track.id in ended_ids or t - p.time >= SETTLE_S:
                crossing = self._resolve(p)
                if crossing is not None:
                    done.append(crossing)
            else:
                keep.append(p)
        self.pending = keep
        return done

    def _resolve(self, p: _Pending) -> Crossing | None:
        sizes = p.track.sizes
        top = 1.0
        roof_row = None
        if sizes:
            own = [sizes[i] for i in own_samples(p.track, p.time)]
            best = [own[i] for i in best_resolved(own)]
            width = statistics.median(s.width for s in best)
            length = statistics.median(s.length for s in best)
            top = statistics.median(s.top_fill for s in best)
            roof_row = statistics.median(s.roof_row_m for s in best)
        elif p.track.partial[1] > 0:
            width, length = p.track.partial
        else:
            width, length = box_size_m(p.track.box, self.homography)
        speed = p.speed_kmh
        if speed is None:
            speed = track_speed_kmh(p.track, self.homography)
        came_back = (
            p.track.sides.get(p.line) != (1 if p.direction == "in" else -1)
            and p.track.side_hits.get(p.line, 0) >= _BACK_MIN_HITS
            and p.line not in p.track.switched
        )
        reason = (
            "came_back"  # the box edge jumped across and back (blobs merging and parting)
            if came_back
            else "brief"
            if len(sizes) < MIN_SAMPLES and p.track.hits < _MIN_HITS_CUT
            else "static"
            if self._travel_m(p.track, p.line, p.direction) < _MIN_TRAVEL_M
            else "small"
            if width < self.cfg.min_width_m or length < self.cfg.min_length_m
            else "fast"
            if speed is not None and speed > self.cfg.max_speed_kmh
            else "merged"
            if width > _MAX_WIDTH_M and not self._bus_with_company(width, length, top)
            else None
        )
        if reason is not None:
            self.rejected += 1
            self.reasons[reason] += 1
            return None
        top_speed = track_max_speed_kmh(p.track, self.homography)
        tr = p.track
        lamp_share = tr.lamp_frames / tr.dark_frames if tr.dark_frames >= LAMP_MIN_FRAMES else None
        cls = classify(
            width,
            length,
            speed,
            self.cfg,
            led=p.led,
            top_fill=top,
            top_speed_kmh=top_speed,
            luma=self.luma,
            roof_row=roof_row,
            lamp_share=lamp_share,
        )
        return Crossing(p.time, p.line, p.direction, cls, speed, p.track.id)
