"""Congestion at a traffic camera: slow and dense traffic, sustained.

Each minute is congested when vehicles crawl (``mean_speed`` under ``speed_kmh`` while the
zone holds traffic: occupancy at least ``min_occupancy_pct``, so an empty night road whose
mean speed reads 0 is not a jam) or when the zone is mostly occupied (``occupancy_pct``),
or the queue is long (``queue_m``). A jam is sustained congestion: at least ``open_share``
of the last ``window`` minutes; it clears when at most ``clear_share`` of them are. Minutes
the camera flags as unreliable (``camera_health`` 0) are not judged.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from psycopg import Connection

from analytics.alerts import Finding, Reading
from analytics.quality.snapshots import Snapshot, SnapshotBuffer
from analytics.quality.wording import num
from ioc_core.settings import Settings

KIND = "congestion"
CAMERA = "traffic_camera"


@dataclass(frozen=True)
class CongestionParams:
    speed_kmh: float = 15.0
    min_occupancy_pct: float = 20.0
    occupancy_pct: float = 60.0
    queue_m: float = 250.0
    critical_occupancy_pct: float = 85.0  # or speed under half of speed_kmh: critical
    window: int = 10  # instants (minutes at the profile's 60 s)
    open_share: float = 0.8
    clear_share: float = 0.3


@dataclass
class _Camera:
    recent: deque[bool]
    active: bool = False


class CongestionDetector:
    def __init__(self, params: CongestionParams | None = None) -> None:
        self.p = params or CongestionParams()
        # Every metric of a camera: an instant is judged on all of them together.
        self.kinds: frozenset[str] = frozenset({CAMERA})
        self.metrics: frozenset[str] | None = None
        self._buffer = SnapshotBuffer(frozenset({CAMERA}))
        self._cams: dict[str, _Camera] = {}

    def observe(self, reading: Reading) -> Iterable[Finding]:
        return self._judge_all(self._buffer.add(reading))

    def tick(self, watermark: datetime) -> Iterable[Finding]:
        return self._judge_all(self._buffer.flush(watermark))

    def _congested(self, snap: Snapshot) -> bool | None:
        health = snap.get("camera_health")
        if health is not None and health < 0.5:
            return None
        speed, occ, queue = snap.get("mean_speed"), snap.get("occupancy"), snap.get("queue_length")
        if speed is None and occ is None and queue is None:
            return None
        crawling = (
            speed is not None and speed < self.p.speed_kmh
            and occ is not None and occ >= self.p.min_occupancy_pct
        )  # fmt: skip
        dense = occ is not None and occ >= self.p.occupancy_pct
        queued = queue is not None and queue >= self.p.queue_m
        return crawling or dense or queued

    def _judge_all(self, snaps: list[Snapshot]) -> list[Finding]:
        out: list[Finding] = []
        for snap in snaps:
            congested = self._congested(snap)
            if congested is None:
                continue
            cam = self._cams.get(snap.device_id)
            if cam is None:
                cam = self._cams[snap.device_id] = _Camera(deque(maxlen=self.p.window))
            cam.recent.append(congested)
            share = sum(cam.recent) / self.p.window
            if not cam.active and share >= self.p.open_share:
                cam.active = True
                out.append(self._finding(snap, cam, active=True))
            elif cam.active and share <= self.p.clear_share:
                cam.active = False
                out.append(self._finding(snap, cam, active=False))
        return out

    def _finding(self, snap: Snapshot, cam: _Camera, *, active: bool) -> Finding:
        speed, occ, queue = snap.get("mean_speed"), snap.get("occupancy"), snap.get("queue_length")
        now = ", ".join(
            part for part in (
                f"mean speed {num(speed)} km/h" if speed is not None else "",
                f"occupancy {num(occ)} %" if occ is not None else "",
                f"queue {num(queue)} m" if queue is not None else "",
            ) if part
        )  # fmt: skip
        congested = sum(cam.recent)
        if active:
            severe = (speed is not None and speed < self.p.speed_kmh / 2) or (
                occ is not None and occ >= self.p.critical_occupancy_pct
            )
            reason = (
                f"{congested} of the last {len(cam.recent)} minutes congested (speed under "
                f"{num(self.p.speed_kmh)} km/h with occupancy ≥ "
                f"{num(self.p.min_occupancy_pct)} %, or occupancy ≥ {num(self.p.occupancy_pct)} %, "
                f"or queue ≥ {num(self.p.queue_m)} m); "
                f"now {now}"
            )
            return Finding(
                kind=KIND, device_id=snap.device_id, key="traffic", active=True,
                severity="critical" if severe else "warning", time=snap.time,
                title="Congestion", reason=reason, metric="mean_speed", value=speed,
                threshold=self.p.speed_kmh,
            )  # fmt: skip
        return Finding(
            kind=KIND, device_id=snap.device_id, key="traffic", active=False, severity="warning",
            time=snap.time, title="Traffic flowing again",
            reason=f"only {congested} of the last {len(cam.recent)} minutes congested; now {now}",
            metric="mean_speed", value=speed,
        )  # fmt: skip


def factory(settings: Settings, conn: Connection) -> CongestionDetector:
    from analytics.quality.config import congestion_params

    return CongestionDetector(congestion_params(settings))
