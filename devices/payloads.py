"""JSON payloads, schema version 1, one model per topic channel.

Models ignore keys they do not know: devices in the field send vendor extras (RSSI, firmware
build, battery) and a firmware update must not turn a working station into a dead-letter source.
What we do read is validated hard, because it ends up in the time-series store and on the wall.
"""

from __future__ import annotations

import math
import reprlib
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    JsonValue,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)

from devices._names import METRIC_NAME_PATTERN
from devices.errors import PayloadError
from devices.topics import Channel

__all__ = [
    "PAYLOAD_MODELS",
    "CommandAckV1",
    "CommandV1",
    "EventV1",
    "Payload",
    "Scalar",
    "StatusV1",
    "TelemetryV1",
    "parse_metric_value",
]

# Bound by PostgreSQL's bigint, where ingest stores it; a device counter past this is broken.
_MAX_SEQ = 2**63 - 1
# Identifiers (event type, command name and id) show up in logs, SQL and URLs; keep them short.
_IDENT_MAX = 64

MetricName = Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]
MetricValue = Annotated[float, Field(strict=True, allow_inf_nan=False)]
# Ordered bool-before-int so True stays a bool; pydantic's smart union prefers exact types anyway.
Scalar = StrictBool | StrictInt | FiniteFloat | StrictStr | None
Identifier = Annotated[str, Field(min_length=1, max_length=_IDENT_MAX)]


class Payload(BaseModel):
    """Common base: schema version, a timezone-aware timestamp and JSON encoding."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1]
    # Aware only: a naive time from a device is ambiguous by 7 hours (UTC vs Indochina Time),
    # and that would shift every reading of the station silently.
    ts: AwareDatetime

    @field_validator("ts", mode="before")
    @classmethod
    def _no_epoch_numbers(cls, value: Any) -> Any:
        # pydantic would read a number as Unix time, guessing seconds vs milliseconds from its
        # magnitude; the contract says ISO 8601 with an offset so there is nothing to guess.
        if isinstance(value, int | float):
            raise ValueError("ts must be an ISO 8601 string with a UTC offset, not a number")
        return value

    def to_json(self) -> bytes:
        """Bytes to publish; ``None`` fields are kept so the wire form matches the docs."""
        return self.__pydantic_serializer__.to_json(self)


class TelemetryV1(Payload):
    """Readings of one device at one instant; units are fixed by the device profile."""

    # Per-device counter: ingest uses it to detect gaps (lost messages) and duplicates
    # (redelivery) without comparing values.
    seq: Annotated[int, Field(ge=0, le=_MAX_SEQ, strict=True)]
    metrics: Annotated[dict[MetricName, MetricValue], Field(min_length=1)]


class StatusV1(Payload):
    """Connection state; published retained, and the ``offline`` one is the MQTT last will."""

    state: Literal["online", "offline"]
    reason: str | None = None


class EventV1(Payload):
    """Something that happened (door opened, line crossed), as opposed to a sampled value."""

    type: Identifier
    severity: Literal["info", "warning", "critical"]
    data: dict[str, Scalar] = Field(default_factory=dict)


class CommandV1(Payload):
    """Platform to device; ``id`` ties the acknowledgements back to this command."""

    id: Identifier
    name: Identifier
    # Nested values (a lighting schedule, counting lines) are allowed: each command's own
    # arguments model (devices.command_catalogue) says what shape is valid.
    args: dict[str, JsonValue] = Field(default_factory=dict)


class CommandAckV1(Payload):
    """Device to platform; ``accepted`` then ``done``/``failed``, or ``rejected`` outright."""

    id: Identifier
    status: Literal["accepted", "done", "failed", "rejected"]
    detail: str | None = None


PAYLOAD_MODELS: dict[Channel, type[Payload]] = {
    Channel.TELEMETRY: TelemetryV1,
    Channel.STATUS: StatusV1,
    Channel.EVENT: EventV1,
    Channel.COMMAND: CommandV1,
    Channel.COMMAND_ACK: CommandAckV1,
}


def parse_metric_value(name: str, raw: object) -> float:
    """One metric value as ingest stores it, or :class:`PayloadError` with a reason code.

    Ingest reads metrics one by one so a message with a single broken sensor still delivers
    the good readings. ``bool`` is refused although it is an ``int`` subclass: ``true`` from a
    device is a firmware bug, not the number 1. Reason codes: ``non_numeric``, ``non_finite``.
    """
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise PayloadError(
            "non_numeric",
            f"metric {name!r}: value {reprlib.repr(raw)} ({type(raw).__name__}) is not a number",
            metric=name,
        )
    if isinstance(raw, int):
        try:
            value = float(raw)
        except OverflowError as exc:  # an int beyond float range: infinite in practice
            raise PayloadError(
                "non_finite", f"metric {name!r}: integer too large", metric=name
            ) from exc
        return value
    if not math.isfinite(raw):
        raise PayloadError(
            "non_finite", f"metric {name!r}: value {raw!r} is not finite", metric=name
        )
    return float(raw)
