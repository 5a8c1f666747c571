"""What a track measured, and the class it makes: footprint size, speed, vehicle class.

Separate from the counting rules (edge/count.py) because these read one track at a time:
the size samples that belong to the vehicle it held at the line, the best-resolved of them,
its ground speed, and the calibrated size-and-shape rules that name its class (docs/edge.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from edge.config import ClassificationConfig
from edge.detect import TOP_ROWS
from edge.geometry import Homography
from edge.track import SizeSample, Track

# Size samples (frames fully in view) a track needs for its crossing to count.
MIN_SAMPLES = 5
# Samples within this factor of the best resolution seen (metres per pixel) decide the size.
_RES_RATIO = 1.5
# Consecutive size samples more than this factor and this many metres apart belong to
# different objects (own_samples); runs shorter than _MIN_RUN are passing
# merges; runs within _RUN_GAP_S of the crossing count as holding it.
_RUN_RATIO = 1.8
_RUN_ABS_M = 0.5
_MIN_RUN = 3
_RUN_GAP_S = 0.3
# Speed is measured over this much of the track's recent path (windows of at least the
# second figure count for the track's top speed).
_SPEED_WINDOW_S = 0.6
_SPEED_MIN_WINDOW_S = 0.4
# Lamps in the dark (classify's lamp_share): a motorbike had a lamp in its box in ~90 % of its
# dark frames (median, simulator), a bicycle in none, or now and then another vehicle's. A
# track needs LAMP_MIN_FRAMES dark frames for its share to be read. An unlit "two-wheeler"
# longer than UNLIT_MAX_LENGTH_M is riders in a row (one measures 4-4.6 m), not a bicycle.
LIT_SHARE = 0.3
UNLIT_SHARE = 0.1
LAMP_MIN_FRAMES = 10
UNLIT_MAX_LENGTH_M = 6.0


def own_samples(track: Track, t: float) -> list[int]:
    """The size samples of the vehicle the track held when it crossed at ``t``.

    A track is sometimes born on a speck or a fragment and then taken over by the vehicle that
    drives into it (a bus entering the view from below), or ends on a speck after the vehicle
    left: its samples are then of two objects, and the best-resolved ones (nearest the camera)
    may all be the speck's, which rejected buses as "small". The samples are cut into runs of
    similar size (in time order); the run that holds the crossing (or the nearest in time,
    then the longest) is the crossing vehicle's.
    """
    sizes = track.sizes
    if not sizes:
        return []
    order = sorted(range(len(sizes)), key=lambda i: sizes[i].t)
    runs: list[list[int]] = [[order[0]]]
    for prev, cur in pairwise(order):
        a, b = sizes[prev], sizes[cur]
        if _differ(a.width, b.width) or _differ(a.length, b.length):
            runs.append([cur])
        else:
            runs[-1].append(cur)
    if len(runs) == 1:
        return runs[0]

    def key(run: list[int]) -> tuple[float, int]:
        gap = max(sizes[run[0]].t - t, t - sizes[run[-1]].t, 0.0)
        return (gap if gap > _RUN_GAP_S else 0.0, -len(run))

    usable = [r for r in runs if len(r) >= _MIN_RUN] or runs
    return min(usable, key=key)


def _differ(a: float, b: float) -> bool:
    lo, hi = min(a, b), max(a, b)
    return hi > _RUN_RATIO * lo and hi - lo > _RUN_ABS_M


def best_resolved(samples: Sequence[SizeSample]) -> list[int]:
    """The size samples taken where the vehicle was seen largest (fewest metres per pixel).

    Far from the camera a pixel spans decimetres and perspective squeezes the gaps between
    vehicles to nothing, so far samples are coarse and often of two vehicles at once; the
    near ones decide. At least ``MIN_SAMPLES`` are kept.
    """
    if not samples:
        return []
    order = sorted(range(len(samples)), key=lambda i: samples[i].res)
    limit = samples[order[0]].res * _RES_RATIO
    chosen = [i for i in order if samples[i].res <= limit]
    if len(chosen) < MIN_SAMPLES:
        chosen = order[:MIN_SAMPLES]
    return chosen


def classify(
    width_m: float,
    length_m: float,
    speed_kmh: float | None,
    cfg: ClassificationConfig,
    *,
    led: bool = False,
    top_fill: float = 1.0,
    top_speed_kmh: float | None = None,
    luma: float | None = None,
    roof_row: float | None = None,
    lamp_share: float | None = None,
) -> str:
    """Calibrated footprint size first, speed only to split two-wheelers (docs/edge.md).

    A box as wide as a car but longer than any car (and short of a bus) is two-wheelers riding
    close together, seen as one blob: counted as a motorbike, not as a car; so is one whose
    top is narrower than its bottom edge (``top_fill``): a rider over the pool of its own
    headlight, or two riders side by side, where a car's roof is as wide as its body. A slow
    two-wheeler is a bicycle only if nothing was close ahead of it: a motorbike stuck behind a
    slower vehicle rides at its speed, a bicycle is slow on an open road. "Slow" is the top
    speed over the track's last ~2.5 s (``top_speed_kmh``), else the speed at the line. A car
    whose roof the subtractor lost is told by its length only in daylight (``luma``, the
    scene's mean grey level; None: unknown, taken as daylight). A bus's roof is also read at
    its own rows' scale (``roof_row``, ``roof_row_m``), where perspective does not shrink it.
    In the dark a two-wheeler's lamps decide before its speed (``lamp_share``: the share of
    its dark frames with a lamp in its box; None: not seen long enough in the dark).
    """
    roof = top_fill * width_m
    if width_m >= cfg.bus_truck_min_width_m and (
        (length_m >= cfg.bus_truck_min_length_m and roof >= cfg.bus_truck_min_roof_m)
        or (
            roof_row is not None
            and roof_row >= cfg.bus_truck_min_roof_row_m
            and length_m >= cfg.bus_truck_roof_row_min_length_m
        )
        or (
            roof_row is not None
            and roof_row >= cfg.bus_truck_long_min_roof_row_m
            and length_m >= cfg.bus_truck_min_length_m
        )
    ):
        return "bus_truck"
    if width_m >= cfg.car_min_width_m and (
        (length_m <= cfg.car_max_length_m and top_fill >= cfg.car_min_top_fill)
        or (roof >= cfg.car_min_roof_m and length_m <= cfg.car_with_roof_max_length_m)
        or (
            cfg.car_roofless_min_length_m <= length_m < cfg.car_roofless_max_length_m
            and (luma is None or luma >= cfg.car_roofless_min_luma)
        )
    ):
        return "car"
    if lamp_share is not None:
        if lamp_share >= LIT_SHARE:
            return "motorbike"
        if (
            lamp_share < UNLIT_SHARE
            and width_m < cfg.car_min_width_m
            and length_m < UNLIT_MAX_LENGTH_M
            and speed_kmh is not None
            and speed_kmh < cfg.bicycle_unlit_max_speed_kmh
        ):
            return "bicycle"
    fastest = top_speed_kmh if top_speed_kmh is not None else speed_kmh
    if fastest is not None and fastest < cfg.bicycle_max_speed_kmh and not led:
        return "bicycle"
    return "motorbike"


def roof_row_m(
    box: tuple[float, float, float, float], top_fill: float, homography: Homography
) -> float:
    """The roof's width (m) at the ground scale of the image rows it was measured in.

    ``top_fill`` x the box's width (its bottom edge) shrinks a long vehicle's roof by
    perspective: the top rows of a 30 m-long box show the far end of a bus, farther from the
    camera than its near end, and read its 2.5 m roof as 1.6-1.8 m, under the bus limit
    (seeds 21 and 99: buses counted as motorbikes). Scaled at the top rows instead, it reads
    large (those rows are mapped to the ground, which the roof is ~3 m above): buses 3.4-7 m,
    cars behind their headlight pools 2.2-3.3 m.
    """
    x0, y0, x1, y1 = box
    row = y0 + (y1 - y0) * TOP_ROWS / 2.0
    return top_fill * (x1 - x0) * homography.across_m_per_px((x0 + x1) / 2.0, row)


def box_size_m(
    box: tuple[float, float, float, float], homography: Homography
) -> tuple[float, float]:
    """(width, length) in metres of the box's footprint: bottom edge and bottom-to-top extent.

    Orientation-free (the longer side is the length), so an overhead view and a view along
    the road read the same way. In a perspective view the top of a tall vehicle projects
    beyond its footprint; the class limits in the config absorb that per camera.
    """
    x0, y0, x1, y1 = box
    cx = (x0 + x1) / 2
    g = homography.to_ground(np.array([[x0, y1], [x1, y1], [cx, y1], [cx, y0]]))
    across = float(np.hypot(*(g[1] - g[0])))
    along = float(np.hypot(*(g[3] - g[2])))
    return min(across, along), max(across, along)


def track_speed_kmh(track: Track, homography: Homography) -> float | None:
    """Ground speed over the last ~0.6 s of the path; None for a track seen too briefly."""
    path = track.path
    if len(path) < 3:
        return None
    t1, x1, y1 = path[-1]
    start = path[0]
    for item in reversed(path):
        start = item
        if t1 - item[0] >= _SPEED_WINDOW_S:
            break
    t0, x0, y0 = start
    if t1 - t0 <= 0:
        return None
    g = homography.to_ground(np.array([[x0, y0], [x1, y1]]))
    return float(np.hypot(*(g[1] - g[0])) / (t1 - t0) * 3.6)


def track_max_speed_kmh(track: Track, homography: Homography) -> float | None:
    """The fastest the track went over any ~0.6 s stretch of its remembered path (~2.5 s).

    A bicycle never goes fast; a motorbike slowed down at the line (behind a bus, in a
    platoon) usually went faster a moment before. Also steadier than one window's speed, which
    a box edge jumping by a few pixels can halve.
    """
    path = track.path
    if len(path) < 3:
        return None
    times = np.array([p[0] for p in path])
    ground = homography.to_ground(np.array([[p[1], p[2]] for p in path]))
    best: float | None = None
    j = 0
    for i in range(len(times)):
        while times[i] - times[j] > _SPEED_WINDOW_S:
            j += 1
        dt = times[i] - times[j]
        if dt >= _SPEED_MIN_WINDOW_S:
            v = float(np.hypot(*(ground[i] - ground[j])) / dt * 3.6)
            best = v if best is None else max(best, v)
    return best
