"""The project's own telemetry payload v1 on ``ioc/v1/{tenant}/{device}/telemetry``.

The envelope is checked by hand instead of with ``TelemetryV1.model_validate_json`` because one
bad metric must not cost the good ones, and because this is the hot path.
"""

from __future__ import annotations

import json
from datetime import datetime

import orjson

from devices.topics import Topic
from ingest.readings import Context, Decoded, Limits, accept_metrics, registered_device
from ingest.registry_cache import RegistryCache


def decode_native(topic: Topic, ctx: Context, *, cache: RegistryCache, limits: Limits) -> Decoded:
    try:
        doc = parse_json(ctx.payload)
    except ValueError as exc:
        return ctx.reject("not_json", f"payload is not JSON: {exc}")
    if not isinstance(doc, dict):
        return ctx.reject("bad_schema", f"payload must be a JSON object, got {type(doc).__name__}")
    problem = _envelope_problem(doc)
    if problem:
        return ctx.reject("bad_schema", problem)
    try:
        ts = datetime.fromisoformat(doc["ts"])
    except ValueError:
        return ctx.reject("bad_timestamp", f"ts {doc['ts']!r} is not ISO 8601")
    if ts.tzinfo is None:
        return ctx.reject("bad_timestamp", f"ts {doc['ts']!r} has no UTC offset")
    device = registered_device(ctx, cache, tenant_id=topic.tenant)
    if isinstance(device, Decoded):
        return device
    return accept_metrics(ctx, device, ts, doc["metrics"], cache=cache, limits=limits)


def parse_json(payload: bytes) -> object:
    """orjson on the hot path; the standard library only for what orjson refuses.

    Firmware prints ``NaN``, ``Infinity`` or ``1e999`` for a broken sensor. orjson rejects the
    whole document; the standard parser reads them as non-finite floats, so the metric-level
    check drops just that reading (``non_finite``) and the sensor's neighbours are kept.
    """
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            return json.loads(payload)
        except RecursionError as exc:  # nested deeper than any real payload: hostile
            raise ValueError("nested too deeply") from exc


def _envelope_problem(doc: dict[str, object]) -> str | None:
    version = doc.get("v")
    if version != 1 or isinstance(version, bool):
        return f"v must be 1 (payload schema version), got {version!r}"
    if not isinstance(doc.get("ts"), str):
        return "ts must be an ISO 8601 string with a UTC offset"
    seq = doc.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0 or seq >= 2**63:
        return f"seq must be a non-negative integer, got {seq!r}"
    metrics = doc.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        return "metrics must be a non-empty object of metric name -> number"
    return None
