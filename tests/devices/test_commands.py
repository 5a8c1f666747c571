"""The command catalogue and the command lifecycle: what may be sent, and states only forward."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from devices.command_catalogue import CommandError, commands_for, validate_command
from devices.commands import (
    advance,
    apply_ack,
    command_message,
    create_command,
    due_for_dispatch,
    expire_due,
    get_command,
    list_commands,
    mark_sent,
)
from devices.errors import DeviceNotFoundError
from devices.liveness import record_status_event
from devices.payloads import CommandAckV1, CommandV1
from devices.profiles import load_profiles
from devices.registry import DeviceIn, ensure_tenant, upsert_device

# --- catalogue (no services) --------------------------------------------------------------


def test_every_kind_can_reboot_and_change_its_interval():
    assert {"reboot", "set_interval"} <= set(commands_for("air_quality_station"))
    assert set(commands_for("street_light")) == {"reboot", "set_interval", "set_state", "dim",
                                                 "schedule"}  # fmt: skip
    assert set(commands_for("traffic_camera")) == {"reboot", "set_interval", "update_config"}


def test_valid_arguments_come_back_normalised():
    assert validate_command("street_light", "dim", {"level": 40}) == {"level": 40}
    assert validate_command("lighting_cabinet", "set_state", {"state": "off"}) == {"state": "off"}
    schedule = {"steps": [{"at": "23:00", "level": 40}, {"at": "18:00", "level": 100}]}
    assert validate_command("street_light", "schedule", schedule) == {
        "steps": [{"at": "18:00", "level": 100}, {"at": "23:00", "level": 40}]
    }
    config = {"counting_lines": [{"name": "stop-line", "start": [0.1, 0.6], "end": [0.9, 0.6],
                                  "in_side": "left"}]}  # fmt: skip
    assert validate_command("traffic_camera", "update_config", config) == config
    assert validate_command("water_level_gauge", "reboot", {}) == {}


def test_an_unknown_command_names_the_ones_the_kind_knows():
    with pytest.raises(CommandError) as caught:
        validate_command("air_quality_station", "dim", {"level": 40})
    ((path, message),) = caught.value.problems
    assert path == "name"
    assert "air_quality_station" in message and "reboot, set_interval" in message


@pytest.mark.parametrize(
    ("kind", "name", "args", "path"),
    [
        ("street_light", "dim", {"level": 101}, "args.level"),
        ("street_light", "dim", {"level": 40.0}, "args.level"),  # a float is not a level
        ("street_light", "dim", {"level": 40, "fade_s": 2}, "args.fade_s"),
        ("street_light", "set_state", {"state": "dim"}, "args.state"),
        ("street_light", "schedule", {"steps": [{"at": "25:00", "level": 10}]},
         "args.steps[0].at"),
        ("street_light", "schedule", {"steps": [{"at": "18:00", "level": 1},
                                                {"at": "18:00", "level": 2}]}, "args"),
        ("traffic_camera", "update_config", {}, "args"),
        ("traffic_camera", "update_config", {"counting_lines": [
            {"name": "a", "start": [0.5, 0.5], "end": [0.5, 0.5], "in_side": "left"}]},
         "args.counting_lines[0]"),
        ("traffic_camera", "update_config", {"fps": 0}, "args.fps"),
        ("weather_station", "set_interval", {"seconds": 1}, "args.seconds"),
        ("weather_station", "reboot", {"now": True}, "args.now"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_with_their_key_path(kind, name, args, path):
    with pytest.raises(CommandError) as caught:
        validate_command(kind, name, args)
    assert path in [p for p, _ in caught.value.problems], caught.value.problems


# --- the lifecycle, against the database --------------------------------------------------


@pytest.fixture
def lamp(conn, tenant) -> str:
    ensure_tenant(conn, tenant, "Sở Xây dựng")
    upsert_device(conn, DeviceIn(id="sl-001", kind="street_light", tenant_id=tenant))
    return "sl-001"


def test_a_command_is_queued_with_normalised_args_and_its_ttl(conn, lamp):
    command = create_command(conn, lamp, "dim", {"level": 30}, ttl_s=600, requested_by="op")
    assert command.state == "queued" and command.args == {"level": 30}
    assert command.requested_by == "op" and command.attempts == 0
    assert 599 <= (command.expires_at - command.created_at).total_seconds() <= 601
    assert get_command(conn, command.id) == command
    assert list_commands(conn, lamp) == [command]


def test_unknown_device_bad_command_and_bad_ttl_are_refused(conn, lamp):
    with pytest.raises(DeviceNotFoundError):
        create_command(conn, "sl-404", "reboot", {})
    with pytest.raises(CommandError):
        create_command(conn, lamp, "update_config", {"fps": 10})
    with pytest.raises(CommandError) as caught:
        create_command(conn, lamp, "reboot", {}, ttl_s=0)
    assert caught.value.problems[0][0] == "ttl_s"
    assert list_commands(conn, lamp) == []


def test_states_only_move_forward_and_repeats_change_nothing(conn, lamp):
    command = create_command(conn, lamp, "set_state", {"state": "on"})
    assert mark_sent(conn, [command.id]) == 1
    assert advance(conn, command.id, "accepted")
    assert not advance(conn, command.id, "accepted")  # a redelivered ack
    assert advance(conn, command.id, "done", detail="lamp on")
    assert not advance(conn, command.id, "accepted")  # late and out of order
    assert not advance(conn, command.id, "failed")
    final = get_command(conn, command.id)
    assert (final.state, final.detail, final.attempts) == ("done", "lamp on", 1)
    assert final.sent_at is not None and final.acked_at is not None


def test_an_ack_counts_only_from_the_commands_own_device(conn, lamp, tenant):
    upsert_device(conn, DeviceIn(id="sl-002", kind="street_light", tenant_id=tenant))
    command = create_command(conn, lamp, "reboot", {})
    ack = CommandAckV1(v=1, id=str(command.id), ts="2026-01-01T00:00:00Z", status="done")
    with pytest.raises(LookupError):
        apply_ack(conn, "sl-002", ack)
    with pytest.raises(LookupError):
        apply_ack(conn, lamp, ack.model_copy(update={"id": str(uuid.uuid4())}))
    assert apply_ack(conn, lamp, ack) and get_command(conn, command.id).state == "done"
    assert not apply_ack(conn, lamp, ack)


def test_only_commands_of_online_devices_are_due_and_expired_ones_never(conn, lamp):
    waiting = create_command(conn, lamp, "dim", {"level": 10})
    assert due_for_dispatch(conn) == []
    record_status_event(conn, lamp, "online", source="device")
    (due,) = due_for_dispatch(conn)
    assert due.id == waiting.id and due.tenant_id.startswith("t")
    conn.execute("UPDATE commands SET expires_at = now() - interval '1 s', "
                 "created_at = now() - interval '1 min'")  # fmt: skip
    assert expire_due(conn) == [waiting.id]
    assert due_for_dispatch(conn) == [] and expire_due(conn) == []
    assert get_command(conn, waiting.id).detail == (
        "the device was not online before the TTL ran out"
    )


def test_sent_commands_are_due_again_only_for_a_device_that_reconnected(conn, lamp):
    command = create_command(conn, lamp, "reboot", {})
    record_status_event(conn, lamp, "online", source="device")
    mark_sent(conn, [command.id])
    assert due_for_dispatch(conn) == []
    assert [c.id for c in due_for_dispatch(conn, resend_to=[lamp])] == [command.id]
    mark_sent(conn, [command.id])
    again = get_command(conn, command.id)
    assert (again.state, again.attempts) == ("sent", 2)


def test_the_wire_form_is_a_command_v1(conn, lamp):
    command = create_command(conn, lamp, "dim", {"level": 55})
    wire = CommandV1.model_validate_json(command_message(command))
    assert (wire.id, wire.name, wire.args) == (str(command.id), "dim", {"level": 55})


# --- docs/commands.md cannot drift ----------------------------------------------------------

DOC = Path(__file__).parents[2] / "docs" / "commands.md"
FENCE = re.compile(r"^```json\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_the_documented_commands_and_acks_are_valid():
    examples = [json.loads(text) for text in FENCE.findall(DOC.read_text(encoding="utf-8"))]
    commands = [e for e in examples if "name" in e]
    acks = [e for e in examples if "status" in e]
    assert len(commands) == 3 and len(acks) == 2
    for example in commands:
        uuid.UUID(example["id"])
        kind = next(k for k in load_profiles() if example["name"] in commands_for(k))
        assert validate_command(kind, example["name"], example["args"]) == example["args"]
    for example in acks:
        CommandAckV1.model_validate(example)


def test_the_documented_catalogue_names_every_command():
    text = DOC.read_text(encoding="utf-8")
    for kind in load_profiles():
        assert f"`{kind}`" in text or set(commands_for(kind)) == {"reboot", "set_interval"}
        for name in commands_for(kind):
            assert f"| `{name}` |" in text, name
