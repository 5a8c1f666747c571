"""What the node says on the wire, built from the shared payload models (devices.payloads).

The only things that leave the node: profile telemetry (the traffic_camera metrics of the
telemetry interval), events (``traffic_interval`` for the other intervals, ``camera_health``,
``source``, ``node_health``, and ``snapshot`` only where snapshots are enabled) and the retained
status. Event types are listed here so a test can assert that nothing else is ever published.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from devices.payloads import EventV1, Scalar, TelemetryV1
from devices.topics import Channel, Topic
from edge.aggregate import Aggregate

EVENT_TYPES: frozenset[str] = frozenset(
    {"traffic_interval", "camera_health", "source", "node_health", "snapshot"}
)

Severity = Literal["info", "warning", "critical"]


def iso(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def telemetry(agg: Aggregate, seq: int) -> bytes:
    """ts is the END of the interval the counts cover (the profile's interval_s long)."""
    return TelemetryV1(v=1, ts=iso(agg.end), seq=seq, metrics=agg.metrics()).to_json()


def interval_event(agg: Aggregate) -> bytes:
    """A shorter interval: same numbers as the telemetry, flat in the event's data."""
    data: dict[str, Scalar] = {
        "interval_s": agg.interval_s,
        "start": iso(agg.start).isoformat(),
        "frames": agg.frames,
    }
    data.update(agg.metrics())
    for key, n in sorted(agg.per_line.items()):
        data[f"line_{key}"] = n
    for name, (occ, queue) in sorted(agg.zones.items()):
        data[f"occupancy_{name}"] = round(occ, 2)
        data[f"queue_{name}"] = round(queue, 1)
    return event("traffic_interval", agg.end, data)


def event(kind: str, t: float, data: dict[str, Scalar], severity: Severity = "info") -> bytes:
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown event type {kind!r}")
    return EventV1(v=1, ts=iso(t), type=kind, severity=severity, data=data).to_json()


def topic(tenant: str, device_id: str, channel: Channel) -> str:
    return str(Topic(tenant, device_id, channel))
