"""The MQTT topic grammar ioc/v1/{tenant}/{device_id}/{channel}."""

from __future__ import annotations

import dataclasses

import pytest

from devices import SEGMENT_RE, Channel, Topic, TopicError, subscription


@pytest.mark.parametrize("channel", list(Channel))
def test_round_trip_for_every_channel(channel: Channel) -> None:
    text = f"ioc/v1/sonnmt/aq-001/{channel}"
    topic = Topic.parse(text)
    assert topic == Topic("sonnmt", "aq-001", channel)
    assert str(topic) == text
    assert topic.channel is channel


def test_segments_may_use_digits_dash_underscore_and_64_characters() -> None:
    tenant = "9" + "a" * 63
    topic = Topic.parse(f"ioc/v1/{tenant}/cam_07-b/status")
    assert (topic.tenant, topic.device_id) == (tenant, "cam_07-b")


def test_topic_is_frozen_and_hashable() -> None:
    topic = Topic("sonnmt", "aq-001", Channel.TELEMETRY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        topic.tenant = "other"  # type: ignore[misc]
    assert {topic, Topic.parse(str(topic))} == {topic}


def test_channel_given_as_text_is_converted() -> None:
    assert Topic("sonnmt", "aq-001", "event").channel is Channel.EVENT  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ioc/v1/sonnmt/aq-001", "expected 5 segments"),
        ("ioc/v1/sonnmt/aq-001/telemetry/extra", "expected 5 segments"),
        ("/ioc/v1/sonnmt/aq-001/telemetry", "expected 5 segments"),
        ("iot/v1/sonnmt/aq-001/telemetry", "prefix segment 'iot'"),
        ("ioc/v2/sonnmt/aq-001/telemetry", "version segment 'v2'"),
        ("ioc/v1/sonnmt/aq-001/metrics", "channel segment 'metrics'"),
        ("ioc/v1/sonnmt/aq-001/Telemetry", "channel segment 'Telemetry'"),
        ("ioc/v1//aq-001/telemetry", "tenant segment '' is empty"),
        ("ioc/v1/SonNMT/aq-001/telemetry", "tenant segment 'SonNMT' must start with"),
        ("ioc/v1/sonNMT/aq-001/telemetry", "tenant segment 'sonNMT' has characters"),
        ("ioc/v1/-son/aq-001/telemetry", "tenant segment '-son' must start with"),
        ("ioc/v1/sonnmt/+/telemetry", "device_id segment '+' is an MQTT wildcard"),
        ("ioc/v1/sonnmt/aq 001/telemetry", "device_id segment 'aq 001' has characters"),
        ("ioc/v1/sonnmt/aq.001/telemetry", "device_id segment 'aq.001' has characters"),
        ("ioc/v1/sonnmt/trạm-1/telemetry", "device_id segment 'trạm-1' has characters"),
        ("ioc/v1/sonnmt/" + "a" * 65 + "/telemetry", "is 65 characters long (at most 64)"),
    ],
)
def test_parse_rejects_with_a_reason_naming_the_segment(text: str, fragment: str) -> None:
    with pytest.raises(TopicError) as caught:
        Topic.parse(text)
    assert caught.value.topic == text
    assert fragment in caught.value.reason
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_constructor_applies_the_same_rules_as_parse() -> None:
    with pytest.raises(TopicError, match="device_id segment 'AQ-1'"):
        Topic("sonnmt", "AQ-1", Channel.TELEMETRY)
    with pytest.raises(TopicError, match="channel segment 'telemetri'"):
        Topic("sonnmt", "aq-1", "telemetri")  # type: ignore[arg-type]


def test_segment_regex_is_anchored_by_fullmatch_only() -> None:
    assert SEGMENT_RE.fullmatch("aq-001")
    assert not SEGMENT_RE.fullmatch("aq-001\n")


def test_subscription_defaults_to_every_tenant_and_device() -> None:
    assert subscription(Channel.TELEMETRY) == "ioc/v1/+/+/telemetry"
    assert subscription(Channel.STATUS, tenant="sonnmt") == "ioc/v1/sonnmt/+/status"
    assert subscription("+", tenant="sonnmt", device_id="aq-001") == "ioc/v1/sonnmt/aq-001/+"


def test_subscription_rejects_bad_segments_and_multi_level_wildcards() -> None:
    with pytest.raises(TopicError, match="tenant segment '#'"):
        subscription(Channel.TELEMETRY, tenant="#")
    with pytest.raises(TopicError, match="channel segment 'telemetry/#'"):
        subscription("telemetry/#")  # type: ignore[arg-type]
