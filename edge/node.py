"""``ioc edge run``: source -> pipeline -> interval aggregates and events -> outbox -> broker.

Frames never leave this process. The loop does not die on a lost source (it reconnects with
backoff and reports ``camera_health`` 0 meanwhile) nor on a lost broker (the outbox holds
everything until the uplink drains it).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from devices.topics import Channel
from edge import messages
from edge.aggregate import Aggregate, IntervalAggregator
from edge.config import CameraConfig
from edge.health import HealthChange
from edge.outbox import Outbox
from edge.pipeline import Pipeline
from edge.snapshot import Anonymiser
from edge.source import FileFrames, FrameSource, Reconnector, Timed, open_source
from edge.uplink import Uplink
from ioc_core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RunSummary:
    frames: int = 0
    crossings: int = 0
    intervals: int = 0
    events: int = 0
    wall_s: float = 0.0
    by_metric: dict[str, int] = field(default_factory=dict)


class EdgeNode:
    def __init__(
        self,
        config: CameraConfig,
        settings: Settings,
        *,
        realtime: bool | None = None,
        outbox_path: Path | None = None,
    ) -> None:
        self.config = config
        self.realtime = realtime
        cam = config.camera
        path = (
            outbox_path
            or config.outbox.path
            or (settings.var_dir / "edge" / f"{cam.id}.outbox.sqlite")
        )
        self.outbox = Outbox(path, max_bytes=config.outbox.max_bytes)
        self.uplink = Uplink(
            self.outbox,
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            tenant=cam.tenant,
            device_id=cam.id,
            username=settings.mqtt_username,
            password=settings.mqtt_password,
        )
        self.telemetry_topic = messages.topic(cam.tenant, cam.id, Channel.TELEMETRY)
        self.event_topic = messages.topic(cam.tenant, cam.id, Channel.EVENT)
        self.pipeline = Pipeline(config)
        self.aggregators = [IntervalAggregator(s) for s in config.intervals_s]
        self.anonymiser = Anonymiser() if config.snapshots.enabled else None
        self._last_snapshot = float("-inf")
        self._process = psutil.Process()
        self._process.cpu_percent()
        self.summary = RunSummary()
        self._health_t: float | None = None
        self._health_frames = 0
        self._health_wall = time.monotonic()
        self._decode_s = 0.0
        self._source_lost = False
        self._source_reconnects = 0

    # --- publishing ---------------------------------------------------------------------------

    def _event(self, kind: str, t: float, data: dict, severity: messages.Severity = "info") -> None:
        self.outbox.put(self.event_topic, messages.event(kind, t, data, severity), created=t)
        self.summary.events += 1

    def _publish(self, agg: Aggregate) -> None:
        if agg.interval_s == self.config.telemetry_interval:
            payload = messages.telemetry(agg, self.outbox.next_seq())
            self.outbox.put(self.telemetry_topic, payload, created=agg.end)
            for name, value in agg.metrics().items():
                if name.startswith("count_"):
                    self.summary.by_metric[name] = self.summary.by_metric.get(name, 0) + int(value)
        else:
            self.outbox.put(self.event_topic, messages.interval_event(agg), created=agg.end)
        self.summary.intervals += 1

    def _health_event(self, change: HealthChange, frame: Timed) -> None:
        data: dict = {
            "condition": change.condition,
            "active": change.active,
            "value": round(change.value, 3),
        }
        severity: messages.Severity = "warning" if change.active else "info"
        self._event("camera_health", change.time, data, severity)
        if change.active and self.anonymiser is not None:
            self._snapshot(frame, f"camera_health:{change.condition}")

    def _snapshot(self, frame: Timed, reason: str) -> None:
        cfg = self.config.snapshots
        if frame.time - self._last_snapshot < cfg.min_interval_s or self.anonymiser is None:
            return
        self._last_snapshot = frame.time
        snap = self.anonymiser.snapshot(frame.frame, cfg)
        self._event(
            "snapshot",
            frame.time,
            {
                "reason": reason,
                "width": snap.width,
                "height": snap.height,
                "blurred_regions": snap.blurred,
                "jpeg_b64": snap.b64(),
            },
        )

    def _node_health(self, t: float, source: FrameSource | None) -> None:
        now = time.monotonic()
        wall = max(now - self._health_wall, 1e-6)
        frames = self._health_frames
        stage = self.pipeline.clock.ms_per_frame()
        data: dict = {
            "fps": round(frames / wall, 2),
            "frames": frames,
            "decode_ms": round(self._decode_s * 1000 / max(frames, 1), 3),
            **{f"stage_ms_{k}": v for k, v in stage.items()},
            "process_ms": round(sum(stage.values()), 3),
            "dropped_frames": source.dropped if source is not None else 0,
            "cpu_pct": round(self._process.cpu_percent(), 1),
            "rss_mb": round(self._process.memory_info().rss / 2**20, 1),
            "queue_depth": self.outbox.depth(),
            "queue_bytes": self.outbox.bytes,
            "queue_dropped": self.outbox.dropped(),
            "broker_connected": self.uplink.connected.is_set(),
            "broker_reconnects": self.uplink.reconnects,
            "broker_failed_attempts": self.uplink.failed_total,
            "source_reconnects": self._source_reconnects,
        }
        self._event("node_health", t, data)
        self.pipeline.clock.reset()
        self._health_frames = 0
        self._decode_s = 0.0
        self._health_wall = now

    # --- the loop -----------------------------------------------------------------------------

    def _open(self) -> FrameSource:
        return open_source(self.config, realtime=self.realtime)

    def run(self, stop: threading.Event, *, drain_timeout: float = 30.0) -> RunSummary:
        started = time.monotonic()
        self.uplink.start()
        src = self.config.source
        reconnector = Reconnector(
            self._open,
            initial_s=src.reconnect_initial_s,
            max_s=src.reconnect_max_s,
            attempts=src.reconnect_attempts,
            stop=stop,
        )
        try:
            self._loop(stop, reconnector)
            if not stop.is_set():
                self.uplink.drain(drain_timeout)
        finally:
            self.uplink.stop()
            self.outbox.close()
            self.summary.wall_s = time.monotonic() - started
        return self.summary

    def _loop(self, stop: threading.Event, reconnector: Reconnector) -> None:
        last_t = time.time()
        while not stop.is_set():
            source = reconnector.open()
            if source is None:
                return
            if self._source_lost:
                self._source_reconnects += 1
                self._event("source", time.time(), {"state": "restored"})
                self._source_lost = False
            try:
                last_t = self._frames(source, stop)
            finally:
                source.close()
            if isinstance(source, FileFrames) and source.ended:
                self._finish(last_t)
                return
            if not stop.is_set():
                self._source_lost = True
                log.warning("%s lost; reconnecting", source.description)
                self._event("source", time.time(), {"state": "lost"}, "warning")
                for agg in self.aggregators:
                    agg.touch(time.time())

    def _frames(self, source: FrameSource, stop: threading.Event) -> float:
        last_t = time.time()
        while not stop.is_set():
            t0 = time.perf_counter()
            item = source.read()
            self._decode_s += time.perf_counter() - t0
            if item is None:
                return last_t
            last_t = item.time
            self._frame(item, source)
        return last_t

    def _frame(self, item: Timed, source: FrameSource) -> None:
        result = self.pipeline.process(item.frame, item.time)
        self.summary.frames += 1
        self._health_frames += 1
        for change in result.health:
            self._health_event(change, item)
        healthy = self.pipeline.health.healthy()
        for agg in self.aggregators:
            for crossing in result.crossings:
                agg.add_crossing(crossing)
            agg.add_frame(item.time, result.zones, healthy=healthy)
            for done in agg.close(item.time):
                self._publish(done)
        self.summary.crossings += len(result.crossings)
        if self._health_t is None:
            self._health_t = item.time
        elif item.time - self._health_t >= self.config.node_health_s:
            self._health_t = item.time
            self._node_health(item.time, source)

    def _finish(self, t: float) -> None:
        """End of a file: classify what is pending and publish the partial last intervals."""
        crossings = self.pipeline.finish(t)
        self.summary.crossings += len(crossings)
        for agg in self.aggregators:
            for crossing in crossings:
                agg.add_crossing(crossing)
            for done in agg.close(t, final=True):
                self._publish(done)
        self._node_health(t, None)
