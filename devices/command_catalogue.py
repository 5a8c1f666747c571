"""What each kind of device can be told to do: command names and the models of their arguments.

Commands are operator input, so arguments are strict (unknown keys refused, ``40.0`` is not a
dim level, bounds checked) and a mistake comes back with its key path before anything reaches a
device in the field: a lamp cannot answer "I did not understand" as clearly as the API can.
The validated arguments are what is stored and published, so a device sees normalised input
(schedule steps sorted, unset config fields left out).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from devices._keypath import format_validation_errors
from devices.errors import ContractError
from devices.topics import SEGMENT_RE

__all__ = [
    "CommandArgs",
    "CommandError",
    "commands_for",
    "validate_command",
]

# Shorter than 10 s floods a NB-IoT cell and the ingest budget; longer than a day hides a dead
# device behind a 3-day offline threshold.
MIN_INTERVAL_S = 10
MAX_INTERVAL_S = 86_400

Percent = Annotated[int, Field(strict=True, ge=0, le=100)]
Unit = Annotated[float, Field(strict=True, ge=0.0, le=1.0)]
# Local time of the controller (Asia/Ho_Chi_Minh), as lighting schedules are written.
Clock = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class CommandError(ContractError):
    """A command the device cannot be sent; ``problems`` are (key path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = tuple(problems)


class CommandArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RebootArgs(CommandArgs):
    """No arguments: the device restarts, reconnects and publishes ``online`` again."""


class SetIntervalArgs(CommandArgs):
    seconds: Annotated[int, Field(strict=True, ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S)]


class SetStateArgs(CommandArgs):
    state: Literal["on", "off"]


class DimArgs(CommandArgs):
    level: Percent


class ScheduleStep(CommandArgs):
    at: Clock
    level: Percent  # 0 switches the lamp off


class ScheduleArgs(CommandArgs):
    """A daily schedule replacing the device's current one; 48 steps is one per half hour."""

    steps: Annotated[list[ScheduleStep], Field(min_length=1, max_length=48)]

    @model_validator(mode="after")
    def _one_step_per_time(self) -> ScheduleArgs:
        times = [step.at for step in self.steps]
        if len(set(times)) != len(times):
            raise ValueError("two steps share a time")
        object.__setattr__(self, "steps", sorted(self.steps, key=lambda step: step.at))
        return self


class CountingLine(CommandArgs):
    """A line across the image in normalised coordinates (0..1, origin top left).

    ``in_side`` says which side of start -> end counts as "in" (towards the centre), so the
    ``*_in``/``*_out`` metrics keep their meaning when a camera is re-aimed.
    """

    name: Annotated[str, Field(pattern=f"^{SEGMENT_RE.pattern}$")]
    start: tuple[Unit, Unit]
    end: tuple[Unit, Unit]
    in_side: Literal["left", "right"]

    @model_validator(mode="after")
    def _has_length(self) -> CountingLine:
        if self.start == self.end:
            raise ValueError("start and end are the same point")
        return self


class UpdateConfigArgs(CommandArgs):
    """Edge node configuration; fields left out keep the node's current value."""

    counting_lines: Annotated[list[CountingLine], Field(min_length=1, max_length=16)] | None = None
    min_confidence: Unit | None = None
    fps: Annotated[int, Field(strict=True, ge=1, le=30)] | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateConfigArgs:
        if self.counting_lines is None and self.min_confidence is None and self.fps is None:
            raise ValueError("nothing to update: give counting_lines, min_confidence or fps")
        names = [line.name for line in self.counting_lines or ()]
        if len(set(names)) != len(names):
            raise ValueError("two counting lines share a name")
        return self


_ANY_KIND: dict[str, type[CommandArgs]] = {"reboot": RebootArgs, "set_interval": SetIntervalArgs}
_LIGHTING: dict[str, type[CommandArgs]] = {
    "set_state": SetStateArgs, "dim": DimArgs, "schedule": ScheduleArgs,
}  # fmt: skip
_BY_KIND: dict[str, dict[str, type[CommandArgs]]] = {
    "street_light": _LIGHTING,
    "lighting_cabinet": _LIGHTING,
    "traffic_camera": {"update_config": UpdateConfigArgs},
}


def commands_for(kind: str) -> dict[str, type[CommandArgs]]:
    """Every command a device of ``kind`` understands, by name."""
    return {**_ANY_KIND, **_BY_KIND.get(kind, {})}


def validate_command(kind: str, name: str, args: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """The normalised arguments, or :class:`CommandError` saying what is wrong and where."""
    known = commands_for(kind)
    model = known.get(name)
    if model is None:
        names = ", ".join(sorted(known))
        raise CommandError([("name", f"unknown command {name!r} for a {kind}; known: {names}")])
    try:
        parsed = model.model_validate(args)
    except ValidationError as exc:
        problems = []
        for line in format_validation_errors(exc, model):
            path, _, message = line.partition(": ")
            problems.append(("args" if path == "(top level)" else f"args.{path}", message))
        raise CommandError(problems) from exc
    return parsed.model_dump(mode="json", exclude_none=True)
