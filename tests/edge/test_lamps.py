"""Headlights in the dark (edge/lamps.py): pools leave the mask, lamps join their vehicle.

A flat ground plane at 10 px a metre, image y growing towards the camera, so distances in the
assertions are easy to read: the pool zone reaches 90 px below a lamp.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.config import parse_config
from edge.detect import Blob, Detector, regions
from edge.geometry import Homography
from edge.lamps import HeadlightFilter, see_lamps
from edge.pipeline import Pipeline
from edge.track import Track

_H = Homography(np.diag([0.1, 0.1, 1.0]))
_ROAD = 40
_SHAPE = (240, 320)


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A dark road with grain: (frame grey, background grey, empty foreground)."""
    rng = np.random.default_rng(5)
    background = np.clip(_ROAD + rng.normal(0, 4, _SHAPE), 0, 255).astype(np.uint8)
    return background.copy(), background, np.zeros(_SHAPE, np.uint8)


def _lamp(grey: np.ndarray, fg: np.ndarray, x: int, y: int, r: int = 3) -> None:
    cv2.circle(grey, (x, y), r, 255, -1)
    cv2.circle(fg, (x, y), r + 1, 255, -1)


def _pool(grey: np.ndarray, fg: np.ndarray, x: int, y0: int, y1: int, half: int) -> np.ndarray:
    """Light the road below (x, y0) by 40 grey levels, as the subtractor would see it."""
    pts = np.array([[x - half // 2, y0], [x + half // 2, y0], [x + half, y1], [x - half, y1]])
    where = np.zeros(_SHAPE, np.uint8)
    cv2.fillConvexPoly(where, pts.astype(np.int32), 255)
    lit = where > 0
    grey[lit] = np.clip(grey[lit].astype(int) + 40, 0, 255).astype(np.uint8)
    fg[lit] = 255
    return lit


def _body(grey: np.ndarray, fg: np.ndarray, x0: int, y0: int, x1: int, y1: int, level: int):
    grey[y0:y1, x0:x1] = level
    fg[y0:y1, x0:x1] = 255


def test_the_pool_ahead_of_a_rider_leaves_the_mask_and_the_rider_stays() -> None:
    grey, background, fg = _scene()
    _body(grey, fg, 140, 40, 156, 72, level=15)
    _lamp(grey, fg, 148, 70)
    pool = _pool(grey, fg, 148, 75, 110, half=14)
    pool &= fg > 0

    gone = HeadlightFilter(_H, None).apply(grey, background, fg)

    assert gone >= 0.95 * np.count_nonzero(pool)
    assert np.count_nonzero(fg[pool]) <= 0.05 * np.count_nonzero(pool)
    assert np.all(fg[40:66, 140:156] == 255)  # the rider


def test_a_vehicle_in_the_pool_a_bright_body_elsewhere_and_a_red_tail_light_stay() -> None:
    grey, background, fg = _scene()
    _body(grey, fg, 140, 40, 156, 72, level=15)
    _lamp(grey, fg, 148, 70)
    _pool(grey, fg, 148, 75, 110, half=14)
    _body(grey, fg, 143, 92, 153, 104, level=20)  # a rider ahead, inside the lit zone
    _body(grey, fg, 30, 100, 60, 140, level=_ROAD + 40)  # pale body as bright as a pool
    tail = np.zeros(_SHAPE, np.uint8)
    cv2.circle(tail, (250, 60), 3, 255, -1)
    grey[tail > 0] = 90  # a red lamp's grey level: no headlight
    fg[tail > 0] = 255
    _body(grey, fg, 240, 62, 260, 120, level=_ROAD + 40)  # lit the same way below it

    HeadlightFilter(_H, None).apply(grey, background, fg)

    assert np.all(fg[92:104, 143:153] == 255)
    assert np.all(fg[100:140, 30:60] == 255)
    assert np.all(fg[62:120, 240:260] == 255)


def test_a_cars_two_lamps_are_joined_to_its_body_and_riders_side_by_side_stay_apart() -> None:
    grey, background, fg = _scene()
    # A car 2 m wide: roof and windscreen, a dark front as dark as the road, two lamps.
    _body(grey, fg, 130, 30, 170, 56, level=70)
    _lamp(grey, fg, 137, 64, r=2)
    _lamp(grey, fg, 163, 64, r=2)
    # Two riders' lamps 2 m apart on one row (wider than a car's lamps): two vehicles.
    _lamp(grey, fg, 40, 150)
    _lamp(grey, fg, 60, 150)
    before, _ = cv2.connectedComponents(fg[20:80, 120:180])

    HeadlightFilter(_H, None).apply(grey, background, fg)

    car, _ = cv2.connectedComponents(fg[20:80, 120:180])
    riders, _ = cv2.connectedComponents(fg[140:160, 30:70])
    assert before - 1 == 3  # roof and two lamps
    assert car - 1 == 1
    assert riders - 1 == 2


def test_without_a_lamp_nothing_changes() -> None:
    grey, background, fg = _scene()
    _body(grey, fg, 140, 40, 156, 72, level=15)
    _pool(grey, fg, 148, 75, 110, half=14)
    was = fg.copy()

    assert HeadlightFilter(_H, None).apply(grey, background, fg) == 0
    assert np.array_equal(fg, was)


_CAMERA = """\
camera: {id: cam-test-0001, tenant: sxd}
source: {kind: file, path: video.mp4}
processing: {width: 320}
lines:
  - {name: lane-1, a: [0, 200], b: [320, 200], in_direction: [0, 1]}
calibration:
  image: [[0, 0], [320, 0], [320, 240], [0, 240]]
  ground: [[0, 0], [32, 0], [32, 24], [0, 24]]
"""


def _pool_left_after(background_level: int) -> int:
    """A frame as dark as a night (mean grey ~35) with a lamp and the road lit below it;
    the background model at ``background_level``. Foreground pixels of the pool left."""
    pipeline = Pipeline(parse_config(_CAMERA))
    frame = np.full((240, 320, 3), 30, np.uint8)
    pipeline.process(frame, 0.0)  # builds the geometry from the first frame
    background = np.full((240, 320), background_level, np.uint8)
    pipeline.detector.background = background
    cv2.circle(frame, (160, 60), 3, (255, 255, 255), -1)
    frame[70:110, 150:170] = background_level + 40
    fg = np.zeros((240, 320), np.uint8)
    cv2.circle(fg, (160, 60), 4, 255, -1)
    fg[70:110, 150:170] = 255
    pipeline.analyse(frame, fg, 0.04, health=False)
    return int(np.count_nonzero(fg[70:110, 150:170]))


def test_the_scene_is_dark_by_its_background_not_by_a_dark_vehicle_filling_the_frame() -> None:
    # Night: the road itself is dark, the pool goes.
    assert _pool_left_after(40) == 0
    # Daylight, seen from above, a dark car filling the view (the real clip's frames fall to
    # 55): its white glints are no headlights and nothing is erased.
    assert _pool_left_after(130) == 40 * 20


def test_a_tail_light_is_found_and_a_dim_red_body_or_a_red_sign_is_not() -> None:
    frame = np.full((*_SHAPE, 3), (38, 40, 42), np.uint8)  # a dark road (BGR)
    cv2.circle(frame, (250, 60), 1, (30, 30, 230), -1)  # a tail light, 5 px
    frame[100:130, 30:60] = (20, 20, 90)  # a red body at night: dull
    cv2.circle(frame, (60, 60), 1, (20, 20, 90), -1)  # as small as a lamp, as dull
    frame[150:170, 200:240] = (30, 30, 230)  # a lit red sign: too large for a lamp
    cv2.circle(frame, (100, 200), 1, (230, 230, 230), -1)  # a white glint: not red

    tails = HeadlightFilter(_H, None).tail_lamps(frame)

    assert [(t.x0, t.y0, t.x1, t.y1) for t in tails] == [(249, 59, 252, 62)]


def test_a_track_counts_its_dark_frames_and_those_with_a_lamp_in_its_box() -> None:
    rider = Track(1, (100.0, 40.0, 110.0, 70.0), 0.0, 0.0, 300.0)
    cyclist = Track(2, (200.0, 40.0, 208.0, 70.0), 0.0, 0.0, 240.0)
    lost = Track(3, (10.0, 10.0, 20.0, 30.0), 0.0, 0.0, 200.0, matched_now=False)
    headlight = Blob(103, 69, 107, 73, 12)  # on the rider's front edge, just below its box
    far = Blob(215, 50, 218, 53, 9)  # another vehicle's lamp, 7 px beside the cyclist

    for _ in range(4):
        see_lamps([rider, cyclist, lost], [headlight, far])

    assert (rider.dark_frames, rider.lamp_frames) == (4, 4)
    assert (cyclist.dark_frames, cyclist.lamp_frames) == (4, 0)
    assert (lost.dark_frames, lost.lamp_frames) == (0, 0)


def _speckle(raw: np.ndarray, x0: int, y0: int, x1: int, y1: int, share: float) -> None:
    """A dark body as the subtractor sees it at night: ``share`` of its pixels marked, half
    as foreground (255), half as shadow (127)."""
    rng = np.random.default_rng(11)
    marks = rng.random((y1 - y0, x1 - x0))
    region = raw[y0:y1, x0:x1]
    region[marks < share / 2] = 255
    region[(marks >= share / 2) & (marks < share)] = 127


def _tail(x: int, y: int) -> Blob:
    """A tail light's box (3 px), its bottom on row ``y``."""
    return Blob(x - 1, y - 3, x + 2, y, 9)


def _pieces(fg: np.ndarray, box: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """The boxes (x0, y0, x1, y1) of what the detector makes of ``fg`` inside ``box``."""
    x0, y0, x1, y1 = box
    clean = Detector.clean(fg)[y0:y1, x0:x1]
    return [(b.x0, b.y0, b.x1, b.y1) for b in regions(np.ascontiguousarray(clean), min_px=20)]


def test_a_dark_bus_going_away_is_filled_above_its_tail_lights_as_one_body() -> None:
    raw = np.zeros(_SHAPE, np.uint8)
    # A bus 2.5 m wide and 12 m long (y 80-200), its rear at the bottom (towards the camera):
    # 30 % of its pixels marked, and its dark rear window and face, 1.5 m above the
    # lamps, not marked at all. A car 2 m ahead of it in the lane stays a car.
    _speckle(raw, 148, 80, 173, 182, 0.3)
    _speckle(raw, 148, 196, 173, 200, 0.3)
    raw[40:60, 150:171] = 255
    fg = np.where(raw == 255, 255, 0).astype(np.uint8)
    assert len(_pieces(fg, (140, 0, 180, 210))) != 2  # the bus is not one piece before

    filled = HeadlightFilter(_H, None).fill_rears([_tail(151, 199), _tail(170, 199)], raw, fg)

    assert filled == 1
    pieces = sorted(_pieces(fg, (140, 0, 180, 210)), key=lambda b: b[1])
    assert len(pieces) == 2  # the car ahead, then the bus
    car, bus = pieces
    assert car[3] <= 62  # nothing of the bus was joined to the car
    assert bus[3] - bus[1] >= 110 and bus[2] - bus[0] >= 18  # 11 m long, 1.8 m wide
    assert np.all(raw[90:195, 153:168] == 255)  # the roof rules read the filled body too


def test_riders_side_by_side_a_cars_tail_lights_and_a_short_body_are_not_filled() -> None:
    raw = np.zeros(_SHAPE, np.uint8)
    raw[80:180, 40:50] = 255  # two files of riders 2 m apart, the road between them
    raw[80:180, 60:70] = 255
    _speckle(raw, 131, 140, 149, 200, 0.4)  # a car: its tail lights 1.2 m apart
    _speckle(raw, 220, 170, 245, 200, 0.4)  # a body as wide as a bus but 3 m long
    fg = np.where(raw == 255, 255, 0).astype(np.uint8)
    was = (raw.copy(), fg.copy())
    tails = [_tail(45, 179), _tail(65, 179), _tail(134, 199), _tail(146, 199)]
    tails += [_tail(223, 199), _tail(242, 199)]

    assert HeadlightFilter(_H, None).fill_rears(tails, raw, fg) == 0
    assert np.array_equal(raw, was[0]) and np.array_equal(fg, was[1])


def test_a_bus_whose_dark_rear_shows_only_its_sides_is_read_out_to_its_sides() -> None:
    raw = np.zeros(_SHAPE, np.uint8)
    _speckle(raw, 200, 60, 226, 168, 0.3)  # its body
    raw[168:200, 200:203] = 255  # its rear face, 3 m tall, as dark as the road but its edges
    raw[168:200, 223:226] = 255
    fg = np.where(raw == 255, 255, 0).astype(np.uint8)

    filled = HeadlightFilter(_H, None).fill_rears([_tail(204, 199), _tail(222, 199)], raw, fg)

    assert filled == 1
    assert np.all(fg[70:195, 207:219] == 255)
