"""Class and blob-sharing rules on hand-made sizes and boxes (issue 5).

Each rule here was added for a failure seen on the simulator's video: a car behind the pool of
its own headlights measured as long and as wide as a bus; a bus entering the view swallowed two
tracked motorbikes and was cut into their boxes, so it was never tracked; a car drove over two
static specks that were tracks, and its blob was cut into them.
"""

from __future__ import annotations

from edge.config import ClassificationConfig
from edge.count import classify
from edge.detect import Blob
from edge.track import _split_shared

_CFG = ClassificationConfig()


def test_roof_width_tells_a_bus_from_a_car_behind_its_headlight_pool() -> None:
    # Measured on seed 21 at night: 3.8 m wide at the bottom (the pool), 14.5 m long, the roof
    # covering 0.47 of the width (1.8 m); a bus there: 2.9 m, 13.7 m, 0.87 (2.5 m).
    assert classify(3.81, 14.5, 30.0, _CFG, top_fill=0.47) == "car"
    assert classify(2.875, 13.65, 30.0, _CFG, top_fill=0.87) == "bus_truck"


def test_a_rider_over_a_headlight_pool_stays_a_motorbike() -> None:
    # A car-wide bottom edge, a rider's roof (0.3 x 2.25 m = 0.7 m).
    assert classify(2.25, 5.9, 30.0, _CFG, top_fill=0.3) == "motorbike"
    assert classify(2.25, 12.5, 30.0, _CFG, top_fill=0.3) == "motorbike"


def test_a_plain_car_is_still_a_car() -> None:
    assert classify(1.8, 6.0, 35.0, _CFG, top_fill=0.9) == "car"


def _box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
    return (x0, y0, x1, y1)


def test_a_blob_of_two_tracked_motorbikes_is_cut_into_their_boxes() -> None:
    blob = Blob(100, 100, 130, 140, area=1000)
    boxes = [_box(100, 100, 114, 140), _box(116, 100, 130, 140)]
    out = _split_shared([blob], boxes)
    assert len(out) == 2 and all(b.shared for b in out)


def test_a_bus_that_swallowed_two_motorbikes_is_not_cut_into_them() -> None:
    bus = Blob(100, 50, 200, 230, area=15000)
    bikes = [_box(120, 150, 134, 180), _box(160, 150, 174, 180)]
    assert _split_shared([bus], bikes) == [bus]


def test_a_tracked_car_keeps_its_blob_when_it_drives_over_specks_that_are_tracks() -> None:
    car = Blob(100, 100, 164, 200, area=5500)
    specks = [_box(102, 105, 132, 165), _box(134, 135, 162, 198)]
    # Without the car's own track, the specks (half the blob) would take it.
    assert len(_split_shared([car], specks)) == 2
    owners = [_box(101, 98, 165, 199)]
    assert _split_shared([car], specks, owners) == [car]
