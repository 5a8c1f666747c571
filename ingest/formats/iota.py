"""FIWARE IoT Agent JSON measures on ``/json/{apikey}/{device_id}/attrs`` (and the older
``/{apikey}/{device_id}/attrs``), so devices configured for a FIWARE IoT Agent join unchanged.

The payload is one measure, a JSON object ``{"attribute": value, ...}``, or an array of them
(multi-measure: readings buffered by the device, each with its own ``TimeInstant``). An
optional ``TimeInstant`` attribute (ISO 8601 with a UTC offset) is the measure's time; without
it the time is when ingest received the message.

These topics are outside the ``ioc/v1`` grammar and carry no tenant: the API key names a service
group (``devices.service_groups``) that fixes the tenant, the device kind and the attribute map
(``t`` -> ``temperature``); an attribute the map does not list is read as a metric name as it
is. The device must be registered, in the group's tenant and of the group's kind.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from devices.service_groups import APIKEY_PATTERN
from devices.topics import SEGMENT_RE
from ingest.formats._dropped import Dropped, fold_dropped
from ingest.formats.native import parse_json
from ingest.readings import Context, Decoded, Limits, Sample, accept_samples, registered_device
from ingest.registry_cache import RegistryCache

__all__ = ["TIME_ATTRIBUTE", "TOPIC_FILTERS", "decode_iota", "is_iota_topic"]

# What ingest subscribes to: the IoT Agent JSON topic and its pre-"/json" form.
TOPIC_FILTERS = ("/json/+/+/attrs", "/+/+/attrs")
TIME_ATTRIBUTE = "TimeInstant"
_APIKEY_RE = re.compile(APIKEY_PATTERN)
_GRAMMAR = "/json/{apikey}/{device_id}/attrs or /{apikey}/{device_id}/attrs"


def is_iota_topic(topic_text: str) -> bool:
    """Every IoT Agent topic starts with '/', and no ``ioc/v1`` topic does."""
    return topic_text.startswith("/")


def decode_iota(ctx: Context, *, cache: RegistryCache, limits: Limits) -> Decoded:
    """``ctx`` as the transport knows it (no tenant, no device yet); both come from the topic
    and the service group, and every dead letter after that names them."""
    parts = ctx.topic.split("/")
    if len(parts) == 5 and parts[1] == "json" and parts[4] == "attrs":
        apikey, device_id = parts[2], parts[3]
    elif len(parts) == 4 and parts[3] == "attrs":
        apikey, device_id = parts[1], parts[2]
    else:
        return ctx.reject(
            "bad_topic",
            f"expected {_GRAMMAR} (FIWARE IoT Agent JSON); ioc/v1 topics have no leading '/'",
        )
    if SEGMENT_RE.fullmatch(device_id) is None:
        return ctx.reject(
            "bad_topic", f"device_id segment {device_id!r} is not a registry id ([a-z0-9_-])"
        )
    ctx = replace(ctx, device_id=device_id)
    group = cache.service_group(apikey) if _APIKEY_RE.fullmatch(apikey) else None
    if group is None:
        # The key is in the stored topic already; the detail does not repeat it.
        return ctx.reject("unknown_apikey", "the API key in the topic names no service group")
    ctx = replace(ctx, tenant_id=group.tenant_id)
    device = registered_device(ctx, cache, tenant_id=group.tenant_id)
    if isinstance(device, Decoded):
        return device
    if device.kind != group.kind:
        return ctx.reject(
            "kind_mismatch",
            f"device {device_id!r} is a {device.kind}; the API key's group is for {group.kind}",
        )
    try:
        doc = parse_json(ctx.payload)
    except (ValueError, RecursionError) as exc:  # nesting deeper than any pack: not ours
        return ctx.reject("not_json", f"payload is not JSON we can read: {exc}")
    measures = doc if isinstance(doc, list) else [doc]
    problem = _shape_problem(measures, doc)
    if problem:
        return ctx.reject("bad_schema", problem)
    early: list[Dropped] = []
    samples: list[Sample] = []
    for index, measure in enumerate(measures):
        assert isinstance(measure, dict)
        ts = _time_instant(measure.get(TIME_ATTRIBUTE), ctx.received_at)
        for attribute, raw in measure.items():
            if attribute == TIME_ATTRIBUTE:
                continue
            name = group.attributes.get(attribute, attribute)
            if isinstance(ts, str):
                where = f" (measure {index})" if len(measures) > 1 else ""
                early.append(("bad_timestamp", f"{name}{where}: {ts}"))
            else:
                samples.append(Sample(name, raw, ts))
    accepted = accept_samples(ctx, device, samples, cache=cache, limits=limits)
    return fold_dropped(ctx, early, accepted, len(samples))


def _shape_problem(measures: list[object], doc: object) -> str | None:
    if not isinstance(doc, dict | list):
        return (
            "payload must be a JSON object of attributes or an array of them, "
            f"got {type(doc).__name__}"
        )
    if not measures:
        return "the array of measures is empty"
    for index, measure in enumerate(measures):
        where = f"measure {index}" if isinstance(doc, list) else "the measure"
        if not isinstance(measure, dict):
            return f"{where} is not a JSON object of attributes"
        if not measure.keys() - {TIME_ATTRIBUTE}:
            return f"{where} has no attributes"
    return None


def _time_instant(value: object, received_at: datetime) -> datetime | str:
    """The measure's time, or why its ``TimeInstant`` cannot be one."""
    if value is None:
        return received_at
    if not isinstance(value, str):
        return f"{TIME_ATTRIBUTE} {value!r} is not an ISO 8601 string"
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return f"{TIME_ATTRIBUTE} {value!r} is not ISO 8601"
    if ts.tzinfo is None:
        return f"{TIME_ATTRIBUTE} {value!r} has no UTC offset"
    return ts
