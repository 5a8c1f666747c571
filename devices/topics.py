"""MQTT topic grammar: ``ioc/v1/{tenant}/{device_id}/{channel}``.

The tenant segment comes first so a broker ACL can give each organisation ``ioc/v1/<tenant>/#``
and nothing else: the platform must accept devices the city does not own (BRIEF: "whoever manages
an object creates and maintains its data"). The version segment lets a v2 grammar run beside v1
during a migration instead of forcing every device in the field to change at once.

Parsing sits on the ingest hot path (25,000 msg/s target), so it is a split and two regex
matches on plain slotted dataclasses; pydantic stays out of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from devices.errors import TopicError

__all__ = [
    "PREFIX",
    "SEGMENT_RE",
    "VERSION",
    "Channel",
    "Topic",
    "subscription",
]

PREFIX = "ioc"
VERSION = "v1"

# Lowercase only: MQTT topics are case-sensitive, and "AQ-001" next to "aq-001" would be two
# devices to the broker but one to a person reading a dashboard. 64 characters leaves room for a
# manufacturer serial number plus a site prefix while keeping topics short on NB-IoT links.
SEGMENT_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_MAX_SEGMENT = 64
_WILDCARD = "+"


class Channel(StrEnum):
    """What a message on the topic carries; each channel has one payload model.

    ``senml`` is the exception: its payload is SenML JSON as RFC 8428 defines it, read by
    ``ingest.formats.senml`` rather than by a model of ours.
    """

    TELEMETRY = "telemetry"
    STATUS = "status"
    EVENT = "event"
    COMMAND = "command"
    COMMAND_ACK = "command_ack"
    SENML = "senml"


# A dict lookup is cheaper than Channel(value), which raises and catches on a miss.
_CHANNELS: dict[str, Channel] = {channel.value: channel for channel in Channel}
_SEGMENT_COUNT = 5


def _segment_problem(value: str) -> str:
    """Explain why a segment fails :data:`SEGMENT_RE`; only called once matching has failed."""
    if not value:
        return "is empty"
    if len(value) > _MAX_SEGMENT:
        return f"is {len(value)} characters long (at most {_MAX_SEGMENT})"
    if value in ("+", "#"):
        return "is an MQTT wildcard, not allowed in a publish topic"
    if not value[0].isascii() or not (value[0].islower() or value[0].isdigit()):
        return "must start with a lowercase ASCII letter or a digit"
    bad = sorted({ch for ch in value if not SEGMENT_RE.fullmatch("a" + ch)})
    return "has characters outside [a-z0-9_-]: " + ", ".join(repr(ch) for ch in bad)


@dataclass(frozen=True, slots=True)
class Topic:
    """One device's channel; ``str(topic)`` is what goes on the wire."""

    tenant: str
    device_id: str
    channel: Channel

    def __post_init__(self) -> None:
        # Constructing a Topic by hand must not produce a topic that parse() would reject.
        for label, value in (("tenant", self.tenant), ("device_id", self.device_id)):
            if SEGMENT_RE.fullmatch(value) is None:
                raise TopicError(
                    self._text(), f"{label} segment {value!r} {_segment_problem(value)}"
                )
        if not isinstance(self.channel, Channel):
            channel = _CHANNELS.get(self.channel)
            if channel is None:
                raise TopicError(self._text(), _channel_problem(self.channel))
            object.__setattr__(self, "channel", channel)

    def _text(self) -> str:
        return f"{PREFIX}/{VERSION}/{self.tenant}/{self.device_id}/{self.channel}"

    def __str__(self) -> str:
        return self._text()

    @classmethod
    def parse(cls, text: str) -> Topic:
        """Read a received topic; raises :class:`TopicError` naming the offending segment."""
        parts = text.split("/")
        if len(parts) != _SEGMENT_COUNT:
            raise TopicError(
                text,
                f"expected {_SEGMENT_COUNT} segments {PREFIX}/{VERSION}/<tenant>/<device_id>/"
                f"<channel>, got {len(parts)}",
            )
        prefix, version, tenant, device_id, channel_text = parts
        if prefix != PREFIX:
            raise TopicError(text, f"prefix segment {prefix!r} must be {PREFIX!r}")
        if version != VERSION:
            raise TopicError(
                text, f"version segment {version!r} is not supported (only {VERSION!r})"
            )
        channel = _CHANNELS.get(channel_text)
        if channel is None:
            raise TopicError(text, _channel_problem(channel_text))
        # __post_init__ checks tenant and device_id with the same wording as a hand-made Topic.
        return cls(tenant, device_id, channel)


def _channel_problem(value: object) -> str:
    allowed = ", ".join(channel.value for channel in Channel)
    return f"channel segment {value!r} is not one of: {allowed}"


def subscription(
    channel: Channel | Literal["+"], *, tenant: str = _WILDCARD, device_id: str = _WILDCARD
) -> str:
    """Topic filter for a consumer; ``+`` in any position means "every".

    Only single-level wildcards are offered: ``#`` would also match deeper topics outside the
    v1 grammar, which a v1 consumer would then have to reject one by one.
    """
    for label, value in (("tenant", tenant), ("device_id", device_id)):
        if value != _WILDCARD and SEGMENT_RE.fullmatch(value) is None:
            filter_text = f"{PREFIX}/{VERSION}/{tenant}/{device_id}/{channel}"
            raise TopicError(filter_text, f"{label} segment {value!r} {_segment_problem(value)}")
    if channel != _WILDCARD and channel not in _CHANNELS:
        raise TopicError(
            f"{PREFIX}/{VERSION}/{tenant}/{device_id}/{channel}", _channel_problem(channel)
        )
    return f"{PREFIX}/{VERSION}/{tenant}/{device_id}/{channel}"
