"""Exception family of the edge node.

Each error subclasses :class:`~ioc_core.errors.IocError`, so ``ioc edge ...`` prints it as one
line and exits 1 instead of a traceback; each carries what an operator needs to act on it.
"""

from __future__ import annotations

from pathlib import Path

from ioc_core.errors import IocError


class EdgeError(IocError):
    """Base of every error raised by :mod:`edge`."""


class ConfigError(EdgeError):
    """A camera config that does not load; the message names the file, the key and the line."""

    def __init__(self, path: Path | None, problems: list[str]) -> None:
        where = f"{path}: " if path else ""
        super().__init__("invalid camera config " + where + "; ".join(problems))
        self.path = path
        self.problems = tuple(problems)


class SourceError(EdgeError):
    """A video source that cannot be opened or read (after the reconnect budget, if any)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"video source {source}: {reason}")
        self.source = source
        self.reason = reason


class TruthError(EdgeError):
    """A ground-truth file (contract C2) that does not load."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"invalid truth file {path}: {reason}")
        self.path = path
