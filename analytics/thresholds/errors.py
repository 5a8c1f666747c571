"""Errors of threshold rules, carrying what the API needs to answer with a problem."""

from __future__ import annotations

from pydantic import ValidationError


class ThresholdError(Exception):
    """Base of this package's errors."""


class RuleNotFoundError(ThresholdError):
    def __init__(self, rule_id: int) -> None:
        super().__init__(f"no threshold rule {rule_id}")
        self.rule_id = rule_id


class RuleValidationError(ThresholdError):
    """A rule that cannot be stored; ``problems`` are (field path, message) pairs."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.problems: list[tuple[str, str]] = [(field, message)]

    @classmethod
    def from_pydantic(cls, exc: ValidationError) -> RuleValidationError:
        found = [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        error = cls(*found[0])
        error.problems = found
        return error
