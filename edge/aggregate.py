"""Interval aggregates: counts per class and direction, mean speed, occupancy, queue, health.

Intervals are aligned to multiples of their length on the frame clock (a 15 s interval ends at
:00, :15, :30, :45), so aggregates from several cameras line up. An interval closes a little
after its end (``GRACE_S``): a crossing's class is decided up to ``count.SETTLE_S`` after the
crossing, and it belongs to the interval in which the vehicle crossed, not the one in which it
was classified.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from edge.config import CLASSES
from edge.count import SETTLE_S, Crossing
from edge.zones import ZoneReading

GRACE_S = SETTLE_S + 0.4
DIRECTIONS = ("in", "out")


def count_metric(cls: str, direction: str) -> str:
    return f"count_{cls}_{direction}"


COUNT_METRICS: tuple[str, ...] = tuple(count_metric(c, d) for c in CLASSES for d in DIRECTIONS)


@dataclass(slots=True)
class _Bucket:
    start: float
    end: float
    frames: int = 0
    unhealthy_frames: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_METRICS, 0))
    per_line: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    speeds: list[float] = field(default_factory=list)
    occupied: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    queue: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Aggregate:
    interval_s: int
    start: float
    end: float
    frames: int
    counts: dict[str, int]  # count_<class>_<in|out>, all eight present
    per_line: dict[str, int]  # "<line>_<in|out>" -> vehicles
    mean_speed: float | None  # km/h over crossings with a measured speed
    occupancy: float | None  # %, mean over zones
    queue_length: float | None  # m, longest zone queue at the end of the interval
    zones: dict[str, tuple[float, float]]  # name -> (occupancy %, queue m)
    camera_health: int  # 1 usable, 0 counts unreliable (or no video)

    def metrics(self) -> dict[str, float]:
        """The traffic_camera profile's metrics; counts only when there was video."""
        out: dict[str, float] = {"camera_health": float(self.camera_health)}
        if self.frames == 0:
            return out
        out.update({k: float(v) for k, v in self.counts.items()})
        if self.mean_speed is not None:
            out["mean_speed"] = round(self.mean_speed, 2)
        if self.occupancy is not None:
            out["occupancy"] = round(self.occupancy, 2)
        if self.queue_length is not None:
            out["queue_length"] = round(self.queue_length, 1)
        return out


class IntervalAggregator:
    def __init__(self, interval_s: int) -> None:
        self.length = interval_s
        self.open: dict[float, _Bucket] = {}

    def _bucket(self, t: float) -> _Bucket:
        start = math.floor(t / self.length) * self.length
        bucket = self.open.get(start)
        if bucket is None:
            bucket = self.open[start] = _Bucket(start, start + self.length)
        return bucket

    def add_frame(self, t: float, zones: dict[str, ZoneReading], *, healthy: bool) -> None:
        b = self._bucket(t)
        b.frames += 1
        if not healthy:
            b.unhealthy_frames += 1
        for name, reading in zones.items():
            if reading.occupied:
                b.occupied[name] += 1
            b.queue[name] = reading.queue_m

    def add_crossing(self, c: Crossing) -> None:
        start = math.floor(c.time / self.length) * self.length
        b = self.open.get(start)
        if b is None:  # its interval already closed: the oldest open one takes it
            b = self.open[min(self.open)] if self.open else self._bucket(c.time)
        b.counts[count_metric(c.cls, c.direction)] += 1
        b.per_line[f"{c.line}_{c.direction}"] += 1
        if c.speed_kmh is not None:
            b.speeds.append(c.speed_kmh)

    def touch(self, t: float) -> None:
        """Make sure an interval exists for t (a live source that delivers no frames)."""
        self._bucket(t)

    def close(self, t: float, *, final: bool = False) -> list[Aggregate]:
        """Intervals that ended (plus the grace) before t; all of them when final."""
        done = sorted(s for s, b in self.open.items() if final or b.end + GRACE_S <= t)
        return [self._emit(self.open.pop(s)) for s in done]

    def _emit(self, b: _Bucket) -> Aggregate:
        zones = {
            name: (100.0 * b.occupied.get(name, 0) / b.frames if b.frames else 0.0, b.queue[name])
            for name in b.queue
        }
        real_zones = {k: v for k, v in zones.items() if k != "lines"} or zones
        occupancy = sum(v[0] for v in real_zones.values()) / len(real_zones) if real_zones else None
        queue = max((v[1] for k, v in zones.items() if k != "lines"), default=None)
        return Aggregate(
            interval_s=self.length,
            start=b.start,
            end=b.end,
            frames=b.frames,
            counts=dict(b.counts),
            per_line=dict(b.per_line),
            mean_speed=sum(b.speeds) / len(b.speeds) if b.speeds else None,
            occupancy=occupancy,
            queue_length=queue,
            zones=zones,
            camera_health=1 if b.frames and b.unhealthy_frames == 0 else 0,
        )
