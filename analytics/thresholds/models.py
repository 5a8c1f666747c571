"""Threshold rules: the contract between the staff who edit them and the engine that evaluates.

Rules are operator input, so the models forbid unknown keys and check that a rule can mean
only one thing: levels ordered by severity in the direction of the comparison, the clear
level (hysteresis) on the safe side of the least severe level, a metric the device kind has.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from devices.profiles import load_profiles

__all__ = [
    "LOCAL_TZ",
    "Band",
    "Comparison",
    "HourRange",
    "RuleChange",
    "RuleCreate",
    "RuleOut",
    "RulePatch",
    "RuleSpec",
    "RuleVersion",
    "ScopeType",
    "Severity",
    "Window",
]

# Active hours are written as Hai Phong wall-clock time; Vietnam has no daylight saving.
LOCAL_TZ = timezone(timedelta(hours=7), "ICT")
# A day: longer minimum durations are better expressed with a longer window.
MAX_DURATION_S = 86_400


class ScopeType(StrEnum):
    DEVICE = "device"
    KIND = "kind"
    COMMUNE = "commune"
    TENANT = "tenant"
    ALL = "all"


class Comparison(StrEnum):
    ABOVE = "above"
    BELOW = "below"
    OUTSIDE = "outside"  # outside a band [low, high]
    RATE_OF_CHANGE = "rate_of_change"  # |change| per hour, in the metric's unit


class Severity(StrEnum):
    """In increasing order of severity: the order the levels must follow."""

    ADVISORY = "advisory"
    WARNING = "warning"
    CRITICAL = "critical"


SEVERITY_ORDER = tuple(Severity)


class Window(StrEnum):
    """What the engine compares: QCVN 05:2023 states each limit for an averaging period."""

    INSTANT = "instant"  # each reading as it arrives
    MEAN_1H = "1h_mean"  # mean of the last clock hour
    RUNNING_MEAN_8H = "8h_running_mean"  # mean of the last 8 hourly means
    MEAN_24H = "24h_mean"  # mean of the last 24 hourly means


_Finite = Annotated[float, Field(allow_inf_nan=False)]
RuleChange = Literal["create", "update", "disable"]


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid")

    low: _Finite
    high: _Finite

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    def contains(self, other: Band) -> bool:
        return self.low <= other.low and other.high <= self.high and self != other


class HourRange(BaseModel):
    """Local time (UTC+7), start inclusive, end exclusive; an end before the start runs past
    midnight (22:00–06:00)."""

    model_config = ConfigDict(extra="forbid")

    start: time
    end: time

    @model_validator(mode="after")
    def _naive_and_nonempty(self) -> Self:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("active hours are local time (UTC+7) without an offset")
        if self.start == self.end:
            raise ValueError("start and end are equal; leave active_hours empty for always")
        return self

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


Level = _Finite | Band

_DIRECTION = {
    Comparison.ABOVE: "above",
    Comparison.BELOW: "below",
    Comparison.OUTSIDE: "a band wider than",
    Comparison.RATE_OF_CHANGE: "above",
}
_SAFE_SIDE = {
    Comparison.ABOVE: "below",
    Comparison.BELOW: "above",
    Comparison.OUTSIDE: "a band inside",
    Comparison.RATE_OF_CHANGE: "below",
}


def _check_shape(comparison: Comparison, level: Level, where: str) -> None:
    band = comparison is Comparison.OUTSIDE
    if isinstance(level, Band) != band:
        want = "a {low, high} band" if band else "a number"
        raise ValueError(f"{where + ': ' if where else ''}{comparison} needs {want}")


def _worse(comparison: Comparison, a: Level, b: Level) -> bool:
    """Is level ``a`` strictly further from the safe side than ``b``?"""
    if isinstance(a, Band) and isinstance(b, Band):
        return a.contains(b)
    if isinstance(a, Band) or isinstance(b, Band):
        return False
    return a < b if comparison is Comparison.BELOW else a > b


class RuleSpec(BaseModel):
    """What a rule says; the stored rule and each version snapshot are this.

    Cross-field checks are field validators reading the fields declared before them, so an
    error names the field at fault (``levels``, ``clear_level``, ``metric``).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(description="Device kind: metric names are per kind")
    metric: str
    scope_type: ScopeType
    scope_value: str | None = Field(
        None, validate_default=True,
        description="Device id, kind, commune code or tenant id; null for `all`",
    )  # fmt: skip
    comparison: Comparison
    levels: dict[Severity, Level] = Field(
        description="Severity -> level; a {low, high} band per severity for `outside`"
    )
    clear_level: Level | None = Field(
        None, description="Hysteresis: an alert clears past this level; null clears at the level"
    )
    min_duration_s: int = Field(0, ge=0, le=MAX_DURATION_S)
    window: Window = Window.INSTANT
    active_hours: list[HourRange] = Field(
        default_factory=list, description="Local time (UTC+7); empty: always"
    )
    enabled: bool = True

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in load_profiles():
            raise ValueError(f"unknown device kind {kind!r}")
        return kind

    @field_validator("metric")
    @classmethod
    def _metric_of_kind(cls, metric: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind is None:
            return metric
        metrics = [m.name for m in load_profiles()[kind].metrics]
        if metric not in metrics:
            raise ValueError(f"kind {kind} has no metric {metric!r} (it has {', '.join(metrics)})")
        return metric

    @field_validator("scope_value")
    @classmethod
    def _scope(cls, value: str | None, info: ValidationInfo) -> str | None:
        scope, kind = info.data.get("scope_type"), info.data.get("kind")
        if scope is ScopeType.ALL and value is not None:
            raise ValueError("must be null when scope_type is 'all'")
        if scope is ScopeType.KIND and kind is not None:
            if value not in (None, kind):
                raise ValueError(f"a kind-scoped rule applies to its own kind ({kind!r})")
            return kind
        if scope not in (None, ScopeType.ALL) and not value:
            raise ValueError(f"required when scope_type is {scope!r}")
        return value

    @field_validator("levels")
    @classmethod
    def _levels_ordered(cls, levels: dict[Severity, Level], info: ValidationInfo) -> dict:
        comparison = info.data.get("comparison")
        if not levels:
            raise ValueError("needs at least one severity")
        if comparison is None:
            return levels
        ordered = [(s, levels[s]) for s in SEVERITY_ORDER if s in levels]
        for severity, level in ordered:
            _check_shape(comparison, level, f"{severity}")
            if comparison is Comparison.RATE_OF_CHANGE and not level > 0:  # type: ignore[operator]
                raise ValueError(f"{severity}: a rate of change is a magnitude per hour, above 0")
        # Each more severe level lies further from the safe side than the one before it, so
        # the engine can treat "worse than" as one total order.
        for (s1, milder), (s2, worse) in pairwise(ordered):
            if not _worse(comparison, worse, milder):
                raise ValueError(f"{s2} must be {_DIRECTION[comparison]} {s1}")
        return dict(ordered)

    @field_validator("clear_level")
    @classmethod
    def _clear_on_safe_side(cls, clear: Level | None, info: ValidationInfo) -> Level | None:
        comparison, levels = info.data.get("comparison"), info.data.get("levels")
        if clear is None or comparison is None or not levels:
            return clear
        _check_shape(comparison, clear, "")
        if comparison is Comparison.RATE_OF_CHANGE and clear < 0:  # type: ignore[operator]
            raise ValueError("a rate of change cannot be negative")
        mildest, level = next(iter(levels.items()))
        if not _worse(comparison, level, clear):
            raise ValueError(f"must be {_SAFE_SIDE[comparison]} levels.{mildest}")
        return clear

    def is_active_at(self, when: datetime) -> bool:
        """Whether the rule applies at ``when`` (aware): enabled and within its active hours."""
        if not self.enabled:
            return False
        if not self.active_hours:
            return True
        local = when.astimezone(LOCAL_TZ).time().replace(tzinfo=None)
        return any(r.contains(local) for r in self.active_hours)


class RuleCreate(RuleSpec):
    reason: str = Field(min_length=3, max_length=2000, description="Why: kept with the version")


class RulePatch(BaseModel):
    """A partial change; ``reason`` is required. The merged rule is validated as a whole."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=2000)
    name: str | None = None
    kind: str | None = None
    metric: str | None = None
    scope_type: ScopeType | None = None
    scope_value: str | None = None
    comparison: Comparison | None = None
    levels: dict[Severity, Level] | None = None
    clear_level: Level | None = None
    min_duration_s: int | None = None
    window: Window | None = None
    active_hours: list[HourRange] | None = None
    enabled: bool | None = None

    def changes(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude_unset=True, exclude={"reason"})


class RuleOut(RuleSpec):
    id: int
    version: int
    seed_key: str | None = None
    created_at: datetime
    updated_at: datetime

    def spec(self) -> RuleSpec:
        return RuleSpec.model_validate(self.model_dump(include=set(RuleSpec.model_fields)))


class RuleVersion(BaseModel):
    rule_id: int
    version: int
    change: RuleChange
    changed_by: str
    changed_at: datetime
    reason: str
    rule: RuleSpec
