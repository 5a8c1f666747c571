"""Multi-object tracking of blobs: constant-velocity prediction and optimal assignment.

Each frame's blobs are matched to the tracks' predicted boxes by the Hungarian method
(``scipy.optimize.linear_sum_assignment``) on a cost that prefers overlap and falls back to
centre distance relative to the vehicle's size, and where a track may also stay unmatched;
greedy nearest-neighbour matching swaps identities between motorbikes riding side by side,
which then get counted twice or not at all.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from edge.detect import Blob

# A match whose centre moved more than this many box sizes (from the prediction) is refused:
# at 25 fps a vehicle moves well under one length per frame.
_GATE_SIZES = 1.2
_INFEASIBLE = 1e6
# What leaving a track unmatched for a frame costs (it coasts). Without this choice the
# assignment matches as many pairs as it can: a coasting track whose only reachable blob was
# a bus took it, and pushed the bus's own track onto a speck (seed 42, 260.5 s), so the bus
# never counted. Between a close match (~0) and the worst gated one (2.2); 1.2 and 2.2 did
# about as well (docs/performance.md).
_UNMATCHED = 1.5
# Velocity smoothing: new = (1 - a) * old + a * measured. Blob boxes jitter by a pixel or two;
# this keeps the prediction steady without lagging a braking vehicle by more than a few frames.
_VELOCITY_ALPHA = 0.35
_HISTORY = 64
# Fragments are joined when their centres lie within the predicted box grown by this share on
# each side, and their union is at most this many times the box's area.
_GROUP_MARGIN = 0.15
_GROUP_MAX_GROWTH = 1.3
_GROUP_MAX_PARTS = 3
_GROUP_MAX_FRAME_SHARE = 0.02
# A blob is cut into the predicted boxes of the established tracks whose centres it holds when
# there are at least two of them, each smaller than this share of the blob's box, and they are
# not one vehicle tracked twice (overlapping by more than this IoU).
_SPLIT_MAX_SHARE = 0.85
_SPLIT_MAX_IOU = 0.3
# ... and only when their boxes cover at least this share of it.
_SPLIT_MIN_COVER = 0.5
# ... unless one established track's predicted box covers the blob this well (IoU).
_OWNER_MIN_IOU = 0.5


class SizeSample(NamedTuple):
    """One measurement of a track's footprint, taken while its box was fully in view.

    Kept as one record so the values of one frame cannot drift apart when a sample is
    replaced by a sharper one (they were four lists kept in step by hand).
    """

    t: float  # when it was taken (the pipeline's clock)
    width: float  # ground metres (edge/measure.py box_size_m)
    length: float  # apparent ground metres
    res: float  # ground metres per pixel across the box's bottom edge: lower is sharper
    top_fill: float = 1.0  # edge/detect.py Detector.top_fill; 1.0 where not measured
    # The roof's width at the ground scale of its own image row (edge/measure.py roof_row_m);
    # 0.0 where not measured.
    roof_row_m: float = 0.0


class LastCount(NamedTuple):
    """A track's last counted crossing (edge/count.py Counter._next_lane)."""

    t: float
    direction: str
    line: str
    inside: bool  # the contact point was within the line's segment, not in its end slack


@dataclass(slots=True)
class Track:
    id: int
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 (analysis px)
    born: float
    last_seen: float
    area: float
    hits: int = 1
    velocity: tuple[float, float] = (0.0, 0.0)  # px/s of the contact point
    # (time, contact x, contact y) of each matched frame.
    path: deque[tuple[float, float, float]] = field(default_factory=lambda: deque(maxlen=_HISTORY))
    # Per-line last side (+1 in side, -1 out side) and lines already counted.
    sides: dict[str, int] = field(default_factory=dict)
    # Per line: matched frames in a row on the current side (a return across the line must
    # last to void a crossing; one last flicker of a dying track does not).
    side_hits: dict[str, int] = field(default_factory=dict)
    counted: set[str] = field(default_factory=set)
    last_count: LastCount | None = None
    # Lines this track counted and then jumped back across in one step too long for a vehicle:
    # it switched onto the vehicle behind, which does not void the crossing it counted.
    switched: set[str] = field(default_factory=set)
    # Footprint samples for classification, taken while fully in view (edge/pipeline.py).
    sizes: list[SizeSample] = field(default_factory=list)
    # Matched this frame to a piece of a blob shared with other tracks (its size is not its own).
    shared: bool = False
    # Largest size seen while cut by the frame edge: a lower bound for a bus longer than the
    # view, which is never seen whole.
    partial: tuple[float, float] = (0.0, 0.0)
    matched_now: bool = True
    # Frames matched in a dark scene, and of those with a lamp in the box (edge/lamps.py).
    dark_frames: int = 0
    lamp_frames: int = 0

    @property
    def contact(self) -> tuple[float, float]:
        x0, _, x1, y1 = self.box
        return ((x0 + x1) / 2.0, y1)

    def predicted(self, t: float) -> tuple[float, float, float, float]:
        dt = t - self.last_seen
        vx, vy = self.velocity
        x0, y0, x1, y1 = self.box
        return (x0 + vx * dt, y0 + vy * dt, x1 + vx * dt, y1 + vy * dt)


def _regroup(blobs: list[Blob], boxes: list[tuple[float, float, float, float]]) -> list[Blob]:
    """Join blobs that fall inside one established track's predicted box.

    A vehicle whose colour is close to the road's (or split by its own windscreen) breaks into
    pieces; a known track says they belong together. Blobs are joined only when their union
    stays about the size of the track, so two vehicles side by side are not glued.
    """
    if len(blobs) < 2 or not boxes:
        return blobs
    used: set[int] = set()
    out: list[Blob] = []
    for box in boxes:
        x0, y0, x1, y1 = box
        mx, my = (x1 - x0) * _GROUP_MARGIN, (y1 - y0) * _GROUP_MARGIN
        inside = [
            j
            for j, b in enumerate(blobs)
            if j not in used
            and x0 - mx <= b.centre[0] <= x1 + mx
            and y0 - my <= b.centre[1] <= y1 + my
        ]
        if not 2 <= len(inside) <= _GROUP_MAX_PARTS:
            continue
        parts = [blobs[j] for j in inside]
        ux0, uy0 = min(b.x0 for b in parts), min(b.y0 for b in parts)
        ux1, uy1 = max(b.x1 for b in parts), max(b.y1 for b in parts)
        if (ux1 - ux0) * (uy1 - uy0) > _GROUP_MAX_GROWTH * max((x1 - x0) * (y1 - y0), 1.0):
            continue
        used.update(inside)
        out.append(Blob(ux0, uy0, ux1, uy1, sum(b.area for b in parts)))
    out.extend(b for j, b in enumerate(blobs) if j not in used)
    return out


def _split_shared(
    blobs: list[Blob],
    boxes: list[tuple[float, float, float, float]],
    owners: Sequence[tuple[float, float, float, float]] = (),
) -> list[Blob]:
    """Cut a blob that holds several tracked vehicles back into them.

    Vehicles that touch in the image (motorbikes side by side, one close behind another, seen
    foreshortened) become one foreground blob. Without this, the blob goes to one of the
    tracks, the others coast and die (vehicles missed), and the survivor measures the group's
    size (motorbikes counted as a car). Each track gets its predicted box, clipped to the blob,
    marked as shared so its size is not sampled there; when the vehicles part, the tracks pick
    up their own blobs again.
    """
    if len(boxes) < 2:
        return blobs
    out: list[Blob] = []
    for b in blobs:
        bb = (float(b.x0), float(b.y0), float(b.x1), float(b.y1))
        limit = _SPLIT_MAX_SHARE * _area(bb)
        if any(_area(p) >= limit and _iou(p, bb) >= _OWNER_MIN_IOU for p in owners):
            # One tracked vehicle already fills the blob: the small tracks inside it are its
            # own fragments, or static specks it drives over, not vehicles beside it.
            out.append(b)
            continue
        inside = sorted(
            (
                p
                for p in boxes
                if b.x0 <= (p[0] + p[2]) / 2 <= b.x1
                and b.y0 <= (p[1] + p[3]) / 2 <= b.y1
                and _area(p) < limit
            ),
            key=_area,
            reverse=True,
        )
        keep: list[tuple[float, float, float, float]] = []
        for p in inside:
            if all(_iou(p, q) < _SPLIT_MAX_IOU for q in keep):
                keep.append(p)
        if len(keep) < 2:
            out.append(b)
            continue
        fill = b.area / max(_area(bb), 1.0)
        pieces = []
        for p in keep:
            x0, y0 = max(b.x0, round(p[0])), max(b.y0, round(p[1]))
            x1, y1 = min(b.x1, round(p[2])), min(b.y1, round(p[3]))
            if x1 - x0 >= 2 and y1 - y0 >= 2:
                pieces.append((x0, y0, x1, y1))
        if sum(_area(q) for q in pieces) < _SPLIT_MIN_COVER * _area(bb):
            # The tracked vehicles are a small part of the blob: something large that no track
            # holds yet (a bus entering the view) has swallowed them; cutting it into their
            # boxes would leave the bus untracked.
            out.append(b)
            continue
        for x0, y0, x1, y1 in pieces:
            out.append(Blob(x0, y0, x1, y1, round((x1 - x0) * (y1 - y0) * fill), shared=True))
    return out


def _area(box: tuple[float, float, float, float]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class Tracker:
    def __init__(self, *, max_coast_s: float, frame_area: float = 640 * 360) -> None:
        self.max_coast_s = max_coast_s
        # Only vehicle-sized tracks regroup fragments: a box grown over a whole platoon (blobs
        # merged at a distance) would otherwise swallow every vehicle that enters it.
        self.max_group_area = frame_area * _GROUP_MAX_FRAME_SHARE
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, blobs: list[Blob], t: float) -> tuple[list[Track], list[Track]]:
        """Match this frame's blobs; returns (live tracks, tracks that ended this frame)."""
        preds = [tr.predicted(t) for tr in self.tracks]
        owners = [
            p for p, tr in zip(preds, self.tracks, strict=True) if tr.hits >= 3 and tr.matched_now
        ]
        established = [p for p in owners if _area(p) <= self.max_group_area]
        blobs = _split_shared(_regroup(blobs, established), established, owners)
        matched_tracks: set[int] = set()
        matched_blobs: set[int] = set()
        if preds and blobs:
            # One "unmatched" column per track (its own, at _UNMATCHED) after the blobs.
            n = len(blobs)
            cost = np.full((len(preds), n + len(preds)), _INFEASIBLE)
            cost[np.arange(len(preds)), n + np.arange(len(preds))] = _UNMATCHED
            for i, p in enumerate(preds):
                pw, ph = p[2] - p[0], p[3] - p[1]
                size = max(pw, ph, 4.0)
                pcx, pcy = (p[0] + p[2]) / 2, (p[1] + p[3]) / 2
                for j, b in enumerate(blobs):
                    bcx, bcy = b.centre
                    dist = np.hypot(bcx - pcx, bcy - pcy) / size
                    if dist > _GATE_SIZES:
                        continue
                    bb = (float(b.x0), float(b.y0), float(b.x1), float(b.y1))
                    overlap = _iou(p, bb)
                    cost[i, j] = 1.0 - overlap if overlap > 0 else 1.0 + dist
            rows, cols = linear_sum_assignment(cost)
            for i, j in zip(rows, cols, strict=True):
                if j >= n or cost[i, j] >= _INFEASIBLE:
                    continue
                self._absorb(self.tracks[i], blobs[j], t)
                matched_tracks.add(i)
                matched_blobs.add(j)
        ended: list[Track] = []
        live: list[Track] = []
        for i, tr in enumerate(self.tracks):
            if i in matched_tracks:
                tr.matched_now = True
                live.append(tr)
            elif t - tr.last_seen <= self.max_coast_s:
                tr.matched_now = False
                live.append(tr)
            else:
                ended.append(tr)
        for j, b in enumerate(blobs):
            if j not in matched_blobs:
                live.append(self._new(b, t))
        self.tracks = live
        return live, ended

    def _new(self, b: Blob, t: float) -> Track:
        tr = Track(
            id=self._next_id,
            box=(float(b.x0), float(b.y0), float(b.x1), float(b.y1)),
            born=t,
            last_seen=t,
            area=float(b.area),
        )
        self._next_id += 1
        tr.path.append((t, *tr.contact))
        return tr

    @staticmethod
    def _absorb(tr: Track, b: Blob, t: float) -> None:
        old_cx, old_cy = tr.contact
        dt = max(t - tr.last_seen, 1e-3)
        tr.box = (float(b.x0), float(b.y0), float(b.x1), float(b.y1))
        new_cx, new_cy = tr.contact
        vx, vy = (new_cx - old_cx) / dt, (new_cy - old_cy) / dt
        if tr.hits == 1:
            tr.velocity = (vx, vy)
        else:
            a = _VELOCITY_ALPHA
            tr.velocity = ((1 - a) * tr.velocity[0] + a * vx, (1 - a) * tr.velocity[1] + a * vy)
        tr.last_seen = t
        tr.area = float(b.area)
        tr.shared = b.shared
        tr.hits += 1
        tr.path.append((t, new_cx, new_cy))
