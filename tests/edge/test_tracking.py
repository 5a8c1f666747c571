"""The tracker's assignment on hand-made blobs: a coasting track does not steal a vehicle.

Issue 5: matching as many track-blob pairs as possible let a track that had lost its own
object take the only blob it could reach, a bus, and pushed the bus's own track onto a speck
nearby (simulator seed 42, 260.5 s): the bus was never counted.
"""

from __future__ import annotations

from edge.detect import Blob
from edge.track import Tracker

_DT = 0.04


def _bus(y: int) -> Blob:
    return Blob(100, y, 160, y + 40, 60 * 40)


def test_a_coasting_track_does_not_take_a_vehicle_from_its_own_track() -> None:
    tracker = Tracker(max_coast_s=0.6)
    # A bus driving down 4 px a frame, and a blob beside it for one frame (a shadow, a
    # headlight pool): its track then coasts, and the only blob it can reach is the bus.
    for i in range(6):
        tracker.update([_bus(40 + 4 * i)], i * _DT)
    (bus_track,) = tracker.tracks
    tracker.update([_bus(64), Blob(150, 80, 190, 110, 1200)], 6 * _DT)
    assert len(tracker.tracks) == 2
    # A speck on the road within the bus track's reach: matching both tracks would hand the
    # bus to the coasting track and the bus's own track to the speck.
    tracker.update([_bus(68), Blob(60, 100, 66, 106, 36)], 7 * _DT)
    assert bus_track.box == (100.0, 68.0, 160.0, 108.0)
    assert bus_track.matched_now
