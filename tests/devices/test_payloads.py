"""Payload models v1: strict on what we read, tolerant of what we do not."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from devices import (
    PAYLOAD_MODELS,
    Channel,
    CommandAckV1,
    CommandV1,
    EventV1,
    PayloadError,
    StatusV1,
    TelemetryV1,
    parse_metric_value,
)

ICT = timezone(timedelta(hours=7))


def telemetry(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "v": 1,
        "ts": "2025-11-26T17:00:00+07:00",
        "seq": 42,
        "metrics": {"pm25": 35.2, "pm10": 61},
    }
    body.update(overrides)
    return body


def test_telemetry_parses_from_json_bytes() -> None:
    message = TelemetryV1.model_validate_json(json.dumps(telemetry()).encode())
    assert message.ts == datetime(2025, 11, 26, 10, 0, tzinfo=UTC)
    assert message.seq == 42
    assert message.metrics == {"pm25": 35.2, "pm10": 61.0}
    assert all(type(value) is float for value in message.metrics.values())


def test_to_json_round_trips() -> None:
    message = TelemetryV1(
        v=1, ts=datetime(2025, 11, 26, 17, tzinfo=ICT), seq=0, metrics={"co": 1200.0}
    )
    wire = message.to_json()
    assert isinstance(wire, bytes)
    assert json.loads(wire) == {
        "v": 1,
        "ts": "2025-11-26T17:00:00+07:00",
        "seq": 0,
        "metrics": {"co": 1200.0},
    }
    assert TelemetryV1.model_validate_json(wire) == message


def test_extra_keys_are_ignored() -> None:
    message = TelemetryV1.model_validate(telemetry(rssi=-71, fw="2.3.1"))
    assert "rssi" not in message.model_dump()


@pytest.mark.parametrize("ts", ["2025-11-26T17:00:00", "2025-11-26", 1764151200, 1764151200000.0])
def test_timestamps_must_be_iso_strings_with_offset(ts: object) -> None:
    with pytest.raises(ValidationError, match="ts"):
        TelemetryV1.model_validate(telemetry(ts=ts))


def test_naive_datetime_objects_are_rejected_too() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        TelemetryV1(v=1, ts=datetime(2025, 11, 26, 17), seq=1, metrics={"pm25": 1.0})


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_metric_values_are_rejected(raw: str) -> None:
    text = '{"v":1,"ts":"2025-11-26T10:00:00Z","seq":1,"metrics":{"pm25":' + raw + "}}"
    with pytest.raises(ValidationError, match="finite"):
        TelemetryV1.model_validate_json(text)


@pytest.mark.parametrize(
    "overrides",
    [
        {"v": 2},
        {"seq": -1},
        {"seq": True},
        {"seq": "5"},
        {"seq": 2**63},
        {"metrics": {}},
        {"metrics": {"pm25": True}},
        {"metrics": {"pm25": "35"}},
        {"metrics": {"pm25": None}},
        {"metrics": {"PM25": 1.0}},
    ],
    ids=repr,
)
def test_telemetry_rejects(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TelemetryV1.model_validate(telemetry(**overrides))


def test_version_is_required() -> None:
    body = telemetry()
    del body["v"]
    with pytest.raises(ValidationError, match="v"):
        TelemetryV1.model_validate(body)


def test_status_defaults_reason_and_serialises_it() -> None:
    status = StatusV1(v=1, ts=datetime(2025, 11, 26, tzinfo=UTC), state="offline")
    assert json.loads(status.to_json())["reason"] is None
    with pytest.raises(ValidationError):
        StatusV1.model_validate({"v": 1, "ts": "2025-11-26T00:00:00Z", "state": "sleeping"})


def test_event_data_keeps_scalar_types() -> None:
    event = EventV1.model_validate_json(
        '{"v":1,"ts":"2025-11-26T10:00:00Z","type":"door_open","severity":"warning",'
        '"data":{"open":true,"count":3,"ratio":0.5,"who":"tech","note":null}}'
    )
    assert event.data == {"open": True, "count": 3, "ratio": 0.5, "who": "tech", "note": None}
    assert [type(value) for value in event.data.values()] == [bool, int, float, str, type(None)]


@pytest.mark.parametrize("data", [{"x": [1]}, {"x": {"y": 1}}, {"x": math.inf}])
def test_event_data_rejects_nested_and_non_finite(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EventV1(v=1, ts=datetime.now(UTC), type="t", severity="info", data=data)  # type: ignore[arg-type]


def test_command_and_ack_share_an_id() -> None:
    now = datetime.now(UTC)
    command = CommandV1(v=1, id="c-1", ts=now, name="set_dim_level", args={"level": 40})
    ack = CommandAckV1.model_validate_json(
        '{"v":1,"id":"c-1","ts":"2025-11-26T10:00:00Z","status":"done","detail":null}'
    )
    assert ack.id == command.id
    assert CommandV1.model_validate_json(command.to_json()) == command
    with pytest.raises(ValidationError):
        CommandAckV1.model_validate({"v": 1, "id": "c-1", "ts": now, "status": "ok"})
    with pytest.raises(ValidationError):
        CommandV1(v=1, id="", ts=now, name="x")


def test_every_channel_of_ours_has_a_model() -> None:
    # SenML documents follow RFC 8428, not a model of ours; ingest.formats.senml reads them.
    assert set(PAYLOAD_MODELS) == set(Channel) - {Channel.SENML}


@pytest.mark.parametrize(("raw", "expected"), [(35, 35.0), (35.2, 35.2), (-3, -3.0), (0, 0.0)])
def test_parse_metric_value_accepts_numbers(raw: object, expected: float) -> None:
    value = parse_metric_value("pm25", raw)
    assert value == expected
    assert type(value) is float


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (True, "non_numeric"),
        (False, "non_numeric"),
        ("35.2", "non_numeric"),
        (None, "non_numeric"),
        ([35.2], "non_numeric"),
        (math.nan, "non_finite"),
        (math.inf, "non_finite"),
        (-math.inf, "non_finite"),
        (10**400, "non_finite"),
    ],
    ids=repr,
)
def test_parse_metric_value_rejects_with_a_reason_code(raw: object, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_metric_value("pm25", raw)
    assert caught.value.reason == reason
    assert caught.value.metric == "pm25"
    assert "pm25" in str(caught.value)
    assert isinstance(caught.value, ValueError)
