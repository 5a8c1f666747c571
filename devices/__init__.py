"""Contracts that cross process boundaries: topics, payloads, device profiles, units, communes.

Edge nodes, simulators, ingest, analytics and the API all import these names, so a change here
is a protocol change: payload models carry a schema version and the topic grammar a version
segment. Import from ``devices``; the submodules are an implementation detail.
"""

from devices.communes import (
    Commune,
    CommuneKind,
    commune_by_code,
    commune_by_name,
    load_communes,
)
from devices.errors import ContractError, PayloadError, ProfileError, TopicError
from devices.limits import (
    MAX_FUTURE_SKEW,
    MAX_PAST_AGE,
    MAX_PAYLOAD_BYTES,
    check_timestamp_window,
)
from devices.payloads import (
    PAYLOAD_MODELS,
    CommandAckV1,
    CommandV1,
    EventV1,
    Payload,
    Scalar,
    StatusV1,
    TelemetryV1,
    parse_metric_value,
)
from devices.profiles import DeviceProfile, MetricSpec, load_profiles
from devices.topics import SEGMENT_RE, Channel, Topic, subscription
from devices.units import UNITS, Unit, is_known_unit

__all__ = [
    "MAX_FUTURE_SKEW",
    "MAX_PAST_AGE",
    "MAX_PAYLOAD_BYTES",
    "PAYLOAD_MODELS",
    "SEGMENT_RE",
    "UNITS",
    "Channel",
    "CommandAckV1",
    "CommandV1",
    "Commune",
    "CommuneKind",
    "ContractError",
    "DeviceProfile",
    "EventV1",
    "MetricSpec",
    "Payload",
    "PayloadError",
    "ProfileError",
    "Scalar",
    "StatusV1",
    "TelemetryV1",
    "Topic",
    "TopicError",
    "Unit",
    "check_timestamp_window",
    "commune_by_code",
    "commune_by_name",
    "is_known_unit",
    "load_communes",
    "load_profiles",
    "parse_metric_value",
    "subscription",
]
