"""Turning one MQTT message into readings and, where needed, a dead letter.

Pure and synchronous (no I/O) so it can be tested exhaustively and profiled on its own. Never
raises for bad input: every failure becomes a ``DeadLetter`` with a stable reason code, so a
poison message cannot stop or slow the loop. The envelope is checked by hand instead of with
``TelemetryV1.model_validate_json`` because one bad metric must not cost the good ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from devices.errors import PayloadError, TopicError
from devices.limits import check_timestamp_window
from devices.payloads import parse_metric_value
from devices.topics import Channel, Topic
from ingest.registry_cache import RegistryCache

# Raw payload kept in a dead letter; enough to see what a device sent, bounded against abuse.
DEAD_LETTER_PAYLOAD_BYTES = 4_096


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    reason: str
    detail: str
    payload: bytes
    received_at: datetime
    tenant_id: str | None = None
    device_id: str | None = None

    @property
    def stored_payload(self) -> tuple[bytes, bool]:
        return self.payload[:DEAD_LETTER_PAYLOAD_BYTES], len(
            self.payload
        ) > DEAD_LETTER_PAYLOAD_BYTES


@dataclass(slots=True)
class Decoded:
    """Rows ready for COPY: (time, device_id, metric_id, value)."""

    rows: list[tuple[datetime, str, int, float]] = field(default_factory=list)
    dead: DeadLetter | None = None
    device_id: str | None = None
    seq: int | None = None


@dataclass(frozen=True)
class Limits:
    max_payload_bytes: int
    max_future: timedelta
    max_past: timedelta


def decode(
    topic_text: str, payload: bytes, *, received_at: datetime, cache: RegistryCache, limits: Limits
) -> Decoded:
    def reject(reason: str, detail: str, **ids: str | None) -> Decoded:
        return Decoded(dead=DeadLetter(topic_text, reason, detail, payload, received_at, **ids))

    try:
        topic = Topic.parse(topic_text)
    except TopicError as exc:
        return reject("bad_topic", exc.reason)
    ids = {"tenant_id": topic.tenant, "device_id": topic.device_id}
    if topic.channel is not Channel.TELEMETRY:
        return reject("wrong_channel", f"ingest reads telemetry, not {topic.channel}", **ids)
    if len(payload) > limits.max_payload_bytes:
        return reject(
            "too_large", f"payload is {len(payload)} bytes, limit {limits.max_payload_bytes}", **ids
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return reject("not_utf8", f"payload is not UTF-8 at byte {exc.start}", **ids)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return reject("not_json", f"payload is not JSON: {exc}", **ids)
    if not isinstance(doc, dict):
        return reject(
            "bad_schema", f"payload must be a JSON object, got {type(doc).__name__}", **ids
        )
    problem = _envelope_problem(doc)
    if problem:
        return reject("bad_schema", problem, **ids)
    try:
        ts = datetime.fromisoformat(doc["ts"])
    except (TypeError, ValueError):
        return reject("bad_timestamp", f"ts {doc['ts']!r} is not ISO 8601", **ids)
    if ts.tzinfo is None:
        return reject("bad_timestamp", f"ts {doc['ts']!r} has no UTC offset", **ids)
    try:
        check_timestamp_window(
            ts, now=received_at, max_future=limits.max_future, max_past=limits.max_past
        )
    except PayloadError as exc:
        return reject(exc.reason, str(exc), **ids)

    device = cache.device(topic.device_id)
    if device is None:
        return reject("unknown_device", f"device {topic.device_id!r} is not registered", **ids)
    if device.tenant_id != topic.tenant:
        return reject(
            "tenant_mismatch",
            f"device {topic.device_id!r} belongs to tenant {device.tenant_id!r}, "
            f"not {topic.tenant!r}",
            **ids,
        )
    out = Decoded(device_id=topic.device_id, seq=doc["seq"])
    dropped: list[tuple[str, str]] = []
    for name, raw in doc["metrics"].items():
        spec = cache.metric(device.kind, name)
        if spec is None:
            dropped.append(("unknown_metric", f"{name}: not a metric of {device.kind}"))
            continue
        try:
            value = parse_metric_value(name, raw)
        except PayloadError as exc:
            dropped.append((exc.reason, str(exc)))
            continue
        if not spec.min_value <= value <= spec.max_value:
            dropped.append(
                (
                    "out_of_range",
                    f"{name}: {value:g} outside [{spec.min_value:g}, {spec.max_value:g}]",
                )
            )
            continue
        out.rows.append((ts, topic.device_id, spec.id, value))
    if dropped:
        kept = len(out.rows)
        detail = (
            f"dropped {len(dropped)} of {kept + len(dropped)} metrics (kept {kept}): "
            + "; ".join(d for _, d in dropped)
        )
        out.dead = DeadLetter(topic_text, dropped[0][0], detail, payload, received_at, **ids)
    return out


def _envelope_problem(doc: dict[str, object]) -> str | None:
    if doc.get("v") != 1 or isinstance(doc.get("v"), bool):
        return f"v must be 1 (payload schema version), got {doc.get('v')!r}"
    if not isinstance(doc.get("ts"), str):
        return "ts must be an ISO 8601 string with a UTC offset"
    seq = doc.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0 or seq >= 2**63:
        return f"seq must be a non-negative integer, got {seq!r}"
    metrics = doc.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        return "metrics must be a non-empty object of metric name -> number"
    return None


__all__ = ["DEAD_LETTER_PAYLOAD_BYTES", "DeadLetter", "Decoded", "Limits", "decode"]
