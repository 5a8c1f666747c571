"""Turning one MQTT message into readings and, where needed, a dead letter.

Pure and synchronous (no I/O beyond the registry cache) so it can be tested exhaustively and
profiled on its own. Never raises for bad input: every failure becomes a dead letter with a
stable reason code, so a poison message cannot stop or slow the loop. The checks common to all
formats (size, encoding, topic) happen here; each format's module reads its own spelling:
native v1 on ``.../telemetry``, SenML on ``.../senml``, and FIWARE IoT Agent JSON on its own
topics (``/json/{apikey}/{device_id}/attrs``), which are outside the ``ioc/v1`` grammar.
"""

from __future__ import annotations

from datetime import datetime

from devices.errors import TopicError
from devices.topics import Channel, Topic
from ingest.formats.iota import decode_iota, is_iota_topic
from ingest.formats.native import decode_native
from ingest.formats.senml import decode_senml
from ingest.readings import Context, Decoded, Limits
from ingest.registry_cache import RegistryCache, RegistryUnavailableError

_READINGS = (Channel.TELEMETRY, Channel.SENML)
# Topics already parsed: a fleet sends the same few thousand topics over and over, and parsing
# (split, two regular expressions, a frozen dataclass) was a tenth of decoding. Bounded against
# a flood of made-up topics: past the limit it starts afresh.
_TOPICS: dict[str, Topic] = {}
_TOPICS_MAX = 100_000


def _parse_topic(text: str) -> Topic:
    topic = _TOPICS.get(text)
    if topic is None:
        topic = Topic.parse(text)  # a bad topic raises, and is never cached
        if len(_TOPICS) >= _TOPICS_MAX:
            _TOPICS.clear()
        _TOPICS[text] = topic
    return topic


def decode(
    topic_text: str, payload: bytes, *, received_at: datetime, cache: RegistryCache, limits: Limits
) -> Decoded:
    try:
        return _decode(topic_text, payload, received_at=received_at, cache=cache, limits=limits)
    except RegistryUnavailableError:
        # A device or API key not yet cached while the database is away: the worker decodes
        # the message again when it can write, so it is neither rejected nor acknowledged.
        return Decoded(deferred=True)


def _decode(
    topic_text: str, payload: bytes, *, received_at: datetime, cache: RegistryCache, limits: Limits
) -> Decoded:
    if is_iota_topic(topic_text):
        ctx = Context(topic_text, payload, received_at, None, None)
        return _transport_problem(ctx, limits) or decode_iota(ctx, cache=cache, limits=limits)
    try:
        topic = _parse_topic(topic_text)
    except TopicError as exc:
        ctx = Context(topic_text, payload, received_at, None, None)
        return ctx.reject("bad_topic", exc.reason)
    ctx = Context(topic_text, payload, received_at, topic.tenant, topic.device_id)
    if topic.channel not in _READINGS:
        return ctx.reject("wrong_channel", f"ingest reads telemetry and senml, not {topic.channel}")
    problem = _transport_problem(ctx, limits)
    if problem:
        return problem
    if topic.channel is Channel.SENML:
        return decode_senml(topic, ctx, cache=cache, limits=limits)
    return decode_native(topic, ctx, cache=cache, limits=limits)


def _transport_problem(ctx: Context, limits: Limits) -> Decoded | None:
    """Size and encoding, checked before any format parses a byte."""
    if len(ctx.payload) > limits.max_payload_bytes:
        return ctx.reject(
            "too_large", f"payload is {len(ctx.payload)} bytes, limit {limits.max_payload_bytes}"
        )
    try:
        ctx.payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ctx.reject("not_utf8", f"payload is not UTF-8 at byte {exc.start}")
    return None
