"""The engine's core, transport aside: messages in, findings out, findings into alerts.

Readings are decoded by ingest's own contract code (:func:`ingest.decode.decode`), so the
engine accepts exactly what ingest stores, for the same reasons; a message ingest would reject
is dead-lettered by ingest and ignored here. Event time drives everything: the watermark is the
latest reading time seen (bounded by ingest's future limit), and ``tick`` passes it to each
detector, so a replay at 60x raises the alerts it would have raised live, at the event times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatch
from importlib.metadata import entry_points

from psycopg import Connection
from pydantic import ValidationError

from analytics.alerts.connectivity import ConnectivityDetector
from analytics.alerts.directory import DeviceDirectory
from analytics.alerts.model import AlertChange, Detector, Finding, Reading, interest
from analytics.alerts.store import apply_findings
from analytics.alerts.thresholds import ThresholdDetector
from analytics.alerts.warm import restore_live_alerts, warm_hourly_means
from analytics.thresholds import list_rules
from devices.errors import PayloadError, TopicError
from devices.payloads import StatusV1
from devices.readings_stream import ReadingBatch, row_times, unpack_rows
from devices.topics import Channel, Topic
from ingest.decode import decode
from ingest.readings import Limits, Row
from ingest.registry_cache import RegistryCache
from ioc_core.settings import Settings

__all__ = ["DETECTORS_GROUP", "AlertEngine", "EngineStats", "load_detectors"]

log = logging.getLogger(__name__)
DETECTORS_GROUP = "ioc.detectors"
SOURCE = "engine"

DetectorFactory = Callable[[Settings, Connection], Detector]
Observer = tuple[str, Callable[[Reading], Iterable[Finding]]]
# Absences explained by a lost connection: while a device's last will stands (a live
# connectivity alert), these findings would be a second alert for the same cause.
EXPLAINED_BY_DISCONNECTION = frozenset({"quality_dropout"})


def selected(settings: Settings, name: str) -> bool:
    """Is detector ``name`` one this engine runs? ``alerts_detectors`` lists names or globs to
    run (none: all) and ``-name`` to leave out, so detectors can be spread over processes:
    ``["thresholds", "connectivity"]`` in one, ``["-thresholds", "-connectivity"]`` in another."""
    include = [p for p in settings.alerts_detectors if not p.startswith("-")]
    exclude = [p[1:] for p in settings.alerts_detectors if p.startswith("-")]
    if any(fnmatch(name, pattern) for pattern in exclude):
        return False
    return not include or any(fnmatch(name, pattern) for pattern in include)


def load_detectors(settings: Settings, conn: Connection) -> dict[str, Detector]:
    """The selected detectors registered in ``ioc.detectors``; one that fails to build is
    logged and left out rather than keeping the whole engine down."""
    found: dict[str, Detector] = {}
    for ep in sorted(entry_points(group=DETECTORS_GROUP), key=lambda e: e.name):
        if not selected(settings, ep.name):
            continue
        try:
            factory: DetectorFactory = ep.load()
            found[ep.name] = factory(settings, conn)
        except Exception:
            log.exception("detector %s could not be loaded; running without it", ep.name)
    return found


@dataclass(slots=True)
class EngineStats:
    messages: int = 0
    readings: int = 0
    ignored: int = 0
    findings: int = 0
    changes: int = 0
    suppressed: int = 0  # findings explained by a lost connection
    detector_errors: dict[str, int] = field(default_factory=dict)


def _wants(detector: Detector, kind: str, metric: str) -> bool:
    kinds, metrics = interest(detector)
    return (kinds is None or kind in kinds) and (metrics is None or metric in metrics)


class AlertEngine:
    def __init__(
        self, settings: Settings, conn: Connection, *,
        detectors: dict[str, Detector] | None = None, now: datetime | None = None,
    ) -> None:  # fmt: skip
        """``conn``: the engine's autocommit connection (rules, registry, alerts)."""
        self.settings = settings
        self.conn = conn
        self.stats = EngineStats()
        self.limits = Limits(
            max_payload_bytes=settings.ingest_max_payload_bytes,
            max_future=timedelta(seconds=settings.ingest_max_future_s),
            max_past=timedelta(seconds=settings.ingest_max_past_s),
        )
        self.cache = RegistryCache(conn)
        self.directory = DeviceDirectory(conn)
        self.thresholds = ThresholdDetector(list_rules(conn, enabled=True))
        self.connectivity = ConnectivityDetector()
        extra = load_detectors(settings, conn) if detectors is None else detectors
        built_in: dict[str, Detector] = {
            "thresholds": self.thresholds, "connectivity": self.connectivity,
        }  # fmt: skip
        self.detectors = {
            **{n: d for n, d in built_in.items() if selected(settings, n)}, **extra,
        }  # fmt: skip
        self.watermark: datetime | None = None
        # (kind, metric) -> the detectors whose declared interest covers it, built on first
        # sight of the pair: one dict look-up per reading instead of a call per detector.
        self._routes: dict[tuple[str, str], tuple[Observer, ...]] = {}
        restored = restore_live_alerts(conn, self.thresholds, self.connectivity)
        warmed = warm_hourly_means(conn, self.thresholds, now or datetime.now(UTC))
        log.info("engine ready: %d rules, detectors %s, %d live alerts restored, %d hourly "
                 "means warmed", sum(1 for _ in self.thresholds.rules()),
                 sorted(self.detectors), restored, warmed)  # fmt: skip

    def use_connection(self, conn: Connection) -> None:
        """After a database outage: the new connection for everything the engine reads."""
        old, self.conn = self.conn, conn
        self.directory.use_connection(conn)
        self.cache = RegistryCache(conn)
        old.close()

    def reload_rules(self) -> None:
        self.thresholds.set_rules(list_rules(self.conn, enabled=True))
        self.reindex()  # the thresholds' interest follows the rules

    def reindex(self) -> None:
        """Forget the routing: call when a detector's declared interest may have changed."""
        self._routes = {}

    def observers(self, kind: str, metric: str) -> tuple[Observer, ...]:
        """The detectors a reading of (kind, metric) reaches, in the engine's order."""
        routes = self._routes.get((kind, metric))
        if routes is None:
            routes = self._routes[(kind, metric)] = tuple(
                (name, d.observe) for name, d in self.detectors.items() if _wants(d, kind, metric)
            )
        return routes

    # --- messages -----------------------------------------------------------------------
    def handle(self, topic: str, payload: bytes, received_at: datetime) -> list[Finding]:
        """One MQTT message; never raises for bad input (ingest dead-letters it)."""
        self.stats.messages += 1
        if topic.endswith("/status"):
            return self._status(topic, payload)
        self.cache.maybe_refresh()
        decoded = decode(topic, payload, received_at=received_at, cache=self.cache,
                         limits=self.limits)  # fmt: skip
        if not decoded.rows:
            self.stats.ignored += 1
            return []
        return self.judge(decoded.rows)

    def handle_readings(self, payload: bytes) -> list[Finding]:
        """One batch of ingest's readings stream (``devices.readings_stream``): rows already
        validated and stored, so nothing is decoded twice."""
        batch = self.readings_of(payload)
        return [] if batch is None else self.judge_records(batch)

    def readings_of(self, payload: bytes) -> ReadingBatch | None:
        """A readings-stream message's records; ``None`` (logged) for a bad one."""
        self.stats.messages += 1
        try:
            return unpack_rows(payload)
        except PayloadError as exc:
            log.error("readings batch ignored: %s", exc)
            self.stats.ignored += 1
            return None

    def judge_records(self, batch: ReadingBatch) -> list[Finding]:
        """Readings-stream records (``RECORD``) through the detectors, in their order."""
        return self.judge(zip(row_times(batch), batch["k"].tolist(), batch["m"].tolist(),
                              batch["v"].tolist(), strict=True))  # fmt: skip

    def judge(self, rows: Iterable[Row]) -> list[Finding]:
        """Readings (time, device key, metric id, value) through the detectors that want them."""
        findings: list[Finding] = []
        devices, metrics = self.directory.by_key, self.directory.metrics
        routes = self._routes
        watermark = self.watermark
        for time, device_key, metric_id, value in rows:
            info = devices.get(device_key) or self.directory.device(device_key)
            metric = metrics.get(metric_id)
            if info is None or metric is None:
                self.stats.ignored += 1
                continue
            reading = Reading(info.id, info.tenant_id, info.kind, info.commune_code, metric,
                              time, value)  # fmt: skip
            self.stats.readings += 1
            if watermark is None or time > watermark:
                watermark = self.watermark = time
            observers = routes.get((info.kind, metric))
            if observers is None:
                observers = self.observers(info.kind, metric)
            for name, observe in observers:
                try:
                    found = observe(reading)
                except Exception:
                    self._failed(name, "observe", reading)
                    continue
                if found:
                    findings += found
        return findings

    def _status(self, topic: str, payload: bytes) -> list[Finding]:
        try:
            parsed = Topic.parse(topic)
            status = StatusV1.model_validate_json(payload)
        except (TopicError, ValidationError, ValueError):
            self.stats.ignored += 1
            return []
        if parsed.channel is not Channel.STATUS:
            return []
        info = self.directory.device_by_id(parsed.device_id)
        if info is None or info.tenant_id != parsed.tenant:
            self.stats.ignored += 1
            return []
        if "connectivity" not in self.detectors:
            return []
        watermark = self.watermark or status.ts
        return self.connectivity.status(info.id, status.state, status.ts, status.reason,
                                        watermark)  # fmt: skip

    def tick(self) -> list[Finding]:
        if self.watermark is None:
            return []
        return self._each("tick", self.watermark)

    def _explained(self, findings: Sequence[Finding]) -> set[str]:
        """Devices of these findings whose silence a live connectivity alert explains (this
        engine's last-will detector, liveness, or another engine process's)."""
        devices = {
            f.device_id for f in findings if f.active and f.kind in EXPLAINED_BY_DISCONNECTION
        }
        if not devices:
            return set()
        down = {f.device_id for f in findings if f.active and f.kind == "connectivity"}
        down |= {d for d in devices if self.connectivity.is_down(d)}
        rows = self.conn.execute(
            """SELECT device_id FROM alerts WHERE kind = 'connectivity'
                 AND state IN ('open', 'acknowledged') AND device_id = ANY(%s)""",
            (list(devices - down),),
        ).fetchall()
        return (down & devices) | {r[0] for r in rows}

    def _each(self, method: str, arg: Reading | datetime) -> list[Finding]:
        """Call every detector; a detector that raises is counted and logged, never fatal."""
        out: list[Finding] = []
        for name, detector in self.detectors.items():
            try:
                out.extend(getattr(detector, method)(arg))
            except Exception:
                self._failed(name, method, arg)
        return out

    def _failed(self, name: str, method: str, arg: Reading | datetime) -> None:
        self.stats.detector_errors[name] = self.stats.detector_errors.get(name, 0) + 1
        log.exception("detector %s failed in %s on %s", name, method, arg)

    def commit(self, findings: Sequence[Finding]) -> list[AlertChange]:
        down = self._explained(findings)
        if down:
            kept = [
                f
                for f in findings
                if not (f.active and f.device_id in down and f.kind in EXPLAINED_BY_DISCONNECTION)
            ]
            self.stats.suppressed += len(findings) - len(kept)
            findings = kept
        if not findings:
            return []
        self.stats.findings += len(findings)
        changes = apply_findings(self.conn, findings, source=SOURCE)
        self.stats.changes += len(changes)
        return changes
