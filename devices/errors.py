"""Exception family of the device contracts.

Everything here subclasses ``ValueError`` because each one means "this input breaks the contract";
callers that only care about that can catch ``ContractError``. Each error carries the fields an
ingest loop needs to park a message with a reason code instead of re-parsing the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class ContractError(ValueError):
    """Base of every error raised by :mod:`devices`."""


class TopicError(ContractError):
    """A topic that is not ``ioc/v1/{tenant}/{device_id}/{channel}``."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"invalid topic {topic!r}: {reason}")
        self.topic = topic
        self.reason = reason


class PayloadError(ContractError):
    """A payload value the contract rejects; ``reason`` is a stable code for dead-letter rows."""

    def __init__(self, reason: str, message: str, *, metric: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.metric = metric


class ProfileError(ContractError):
    """A device-profile file that does not load; the message names the file and the key path."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__("\n".join(f"{path.name}: {problem}" for problem in problems))
        self.path = path
        self.problems = tuple(problems)


class DeviceNotFoundError(LookupError):
    """No device with this id in the registry (the API answers 404)."""

    def __init__(self, device_id: str) -> None:
        super().__init__(f"no device with id {device_id!r}")
        self.device_id = device_id


# --- Registry provisioning -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a device: the input field (as the caller named it) and why."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One thing wrong in a CSV file: ``line`` as an editor shows it (the header is line 1)."""

    line: int
    column: str
    message: str


class DeviceValidationError(ContractError):
    """A device the registry refuses; carries every problem found, not just the first."""

    def __init__(self, device_id: str | None, problems: list[Problem]) -> None:
        where = f"device {device_id!r}" if device_id else "device"
        text = "; ".join(f"{p.field}: {p.message}" for p in problems)
        super().__init__(f"invalid {where}: {text}")
        self.device_id = device_id
        self.problems = tuple(problems)


class DeviceExistsError(ContractError):
    """The id is taken. Ids of retired devices stay taken: their telemetry keeps the id."""

    def __init__(self, device_id: str, *, retired: bool = False) -> None:
        why = " by a retired device whose telemetry is kept" if retired else ""
        super().__init__(f"device id {device_id!r} is already taken{why}; choose another id")
        self.device_id = device_id
        self.retired = retired


class CsvImportError(ContractError):
    """A CSV import refused as a whole; ``problems`` lists every bad row, in file order."""

    def __init__(self, problems: list[RowProblem]) -> None:
        lines = sorted({p.line for p in problems})
        super().__init__(
            f"{len(problems)} problem(s) on {len(lines)} line(s), nothing imported:\n"
            + "\n".join(f"line {p.line}, column {p.column}: {p.message}" for p in problems)
        )
        self.problems = tuple(problems)
