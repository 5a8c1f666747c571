"""Exception family of the device contracts.

Everything here subclasses ``ValueError`` because each one means "this input breaks the contract";
callers that only care about that can catch ``ContractError``. Each error carries the fields an
ingest loop needs to park a message with a reason code instead of re-parsing the text.
"""

from __future__ import annotations

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
