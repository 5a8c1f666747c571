"""Turning one MQTT message into readings and, where needed, a dead letter.

Pure and synchronous (no I/O beyond the registry cache) so it can be tested exhaustively and
profiled on its own. Never raises for bad input: every failure becomes a dead letter with a
stable reason code, so a poison message cannot stop or slow the loop. The checks common to all
formats (size, encoding, topic) happen here; each format's module reads its own spelling.
"""

from __future__ import annotations

from datetime import datetime

from devices.errors import TopicError
from devices.topics import Channel, Topic
from ingest.formats.native import decode_native
from ingest.readings import Context, Decoded, Limits
from ingest.registry_cache import RegistryCache


def decode(
    topic_text: str, payload: bytes, *, received_at: datetime, cache: RegistryCache, limits: Limits
) -> Decoded:
    try:
        topic = Topic.parse(topic_text)
    except TopicError as exc:
        ctx = Context(topic_text, payload, received_at, None, None)
        return ctx.reject("bad_topic", exc.reason)
    ctx = Context(topic_text, payload, received_at, topic.tenant, topic.device_id)
    if topic.channel is not Channel.TELEMETRY:
        return ctx.reject("wrong_channel", f"ingest reads telemetry, not {topic.channel}")
    if len(payload) > limits.max_payload_bytes:
        return ctx.reject(
            "too_large", f"payload is {len(payload)} bytes, limit {limits.max_payload_bytes}"
        )
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ctx.reject("not_utf8", f"payload is not UTF-8 at byte {exc.start}")
    return decode_native(topic, ctx, cache=cache, limits=limits)
