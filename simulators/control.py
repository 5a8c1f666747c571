"""Simulated devices obey commands as the catalogue defines them (devices.command_catalogue).

A light or cabinet told to ``dim`` holds that level (its power follows through the signal
model), ``set_state`` forces it on or off, ``schedule`` replaces its night dimming steps,
``set_interval`` changes how often it reports from the next reading on, ``reboot`` announces
the device online again. Each command is acknowledged ``accepted`` then ``done`` (or
``rejected`` with the catalogue's reason), and a lighting device reports at once after a
change, as the street-light profile says real nodes do.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from pydantic import JsonValue

from devices.command_catalogue import CommandError, validate_command
from simulators.city import SimDevice


@dataclass(frozen=True)
class Outcome:
    command_id: str
    status: str  # done | rejected | failed
    detail: str | None
    report_now: bool = False
    new_interval_s: float | None = None
    reboot: bool = False


def parse_command(payload: bytes) -> tuple[str, str, dict[str, JsonValue]]:
    """(id, name, args) of a CommandV1 message; ValueError if it is not one."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"command is not JSON: {exc}") from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("id"), str)
        or not isinstance(data.get("name"), str)
    ):
        raise ValueError("command lacks a string id or name")
    args = data.get("args") or {}
    if not isinstance(args, dict):
        raise ValueError("command args must be an object")
    return data["id"], data["name"], args


def execute(dev: SimDevice, command_id: str, name: str, args: dict[str, JsonValue]) -> Outcome:
    try:
        valid = validate_command(dev.kind, name, args)
    except CommandError as exc:
        return Outcome(command_id, "rejected", str(exc))
    if name == "set_interval":
        seconds = float(valid["seconds"])  # type: ignore[arg-type]
        dev.interval_s = seconds
        return Outcome(command_id, "done", f"reporting every {seconds:g} s", new_interval_s=seconds)
    if name == "reboot":
        return Outcome(command_id, "done", "rebooted", report_now=True, reboot=True)
    ctl = dev.control
    if ctl is None:  # e.g. update_config on a camera: nothing to model beyond accepting it
        return Outcome(command_id, "done", None)
    if name == "dim":
        ctl.level = int(str(valid["level"]))
        return Outcome(command_id, "done", f"dimmed to {ctl.level} %", report_now=True)
    if name == "set_state":
        ctl.state = str(valid["state"])
        return Outcome(command_id, "done", f"switched {ctl.state}", report_now=True)
    if name == "schedule":
        steps = valid["steps"]
        assert isinstance(steps, list)
        parsed = []
        for step in steps:
            assert isinstance(step, dict)
            clock, level = str(step["at"]), int(str(step["level"]))
            parsed.append((int(clock[:2]) * 60 + int(clock[3:]), level))
        ctl.schedule = tuple(parsed)
        ctl.level = None
        ctl.state = None
        return Outcome(command_id, "done", f"schedule of {len(steps)} steps", report_now=True)
    return Outcome(command_id, "failed", f"{name} is not simulated")
