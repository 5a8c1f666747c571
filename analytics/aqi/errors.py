"""Exception family of :mod:`analytics.aqi`."""

from __future__ import annotations

__all__ = ["AqiError", "AqiInputError"]


class AqiError(ValueError):
    """Base of every error raised by :mod:`analytics.aqi`."""


class AqiInputError(AqiError):
    """An input file that breaks the long-form contract; ``problems`` name the line of each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__("\n".join(f"{source}: {p}" for p in problems))
        self.source = source
        self.problems = problems
