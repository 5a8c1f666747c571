"""Device profiles: what each kind of device measures, in which unit, and how often.

Profiles are data (``devices/profile_data/<kind>.yaml``), so a new kind of sensor is a reviewed
YAML file, not a code change. They are operator-written configuration, so unlike device payloads
they are strict: an unknown key is an error naming the file and the key path, because a typo
such as ``intreval_s`` would otherwise silently fall back to nothing.

The unit of a metric is fixed here, not sent by devices: a reading is a bare number, and its
meaning comes from (device kind, metric name). That keeps telemetry small and makes a station
that switches to ppb visible as a contract change rather than a silent 2x jump on the wall.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from devices._keypath import format_validation_errors
from devices._names import METRIC_NAME_PATTERN
from devices._yaml import StrictYamlError, load_strict
from devices.errors import ProfileError
from devices.units import UNITS

__all__ = ["DEFAULT_PROFILE_DIR", "DeviceProfile", "MetricSpec", "load_profiles"]

DEFAULT_PROFILE_DIR = Path(__file__).resolve().parent / "profile_data"

_Text = Annotated[StrictStr, Field(min_length=1)]
_Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class MetricSpec(BaseModel):
    """One metric of a kind; ``min``/``max`` bound what is physically plausible.

    The range is a data-quality check (a PM2.5 of 40,000 is a broken sensor), not an alert
    threshold: thresholds belong to the people who own the station and change without a release.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[StrictStr, Field(pattern=METRIC_NAME_PATTERN)]
    unit: str
    min: _Number
    max: _Number
    # Expected seconds between readings: the basis of "stale" on the wall and of gap counts.
    # Whole seconds: no field device reports faster than 1 Hz, and an integer column and label
    # ("60 s") are what the database and the wall want.
    interval_s: Annotated[int, Field(strict=True, gt=0)]
    description: _Text

    @field_validator("unit", mode="before")
    @classmethod
    def _known_unit(cls, value: Any) -> str:
        if not isinstance(value, str):
            # YAML reads `unit: 1` as the integer 1; say how to fix it rather than "not a string".
            raise PydanticCustomError(
                "unit_type",
                "{value} is not a string (quote it in YAML: '1')",
                {"value": repr(value)},
            )
        if value not in UNITS:
            raise PydanticCustomError(
                "unknown_unit", "{value} is not a known UCUM unit", {"value": repr(value)}
            )
        return value

    @field_validator("max")
    @classmethod
    def _max_above_min(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("min")
        if low is not None and value <= low:
            raise PydanticCustomError(
                "range_order",
                "max ({max}) must be greater than min ({min})",
                {"max": value, "min": low},
            )
        return value


class DeviceProfile(BaseModel):
    """A kind of device: the metrics it may report (any subset per message) and who owns it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Annotated[StrictStr, Field(pattern=METRIC_NAME_PATTERN)]
    title: _Text
    description: _Text
    # Which agency usually manages such devices (BRIEF: whoever manages an object owns its data);
    # a hint for provisioning, since enterprises may own devices of any kind.
    owner_hint: _Text
    metrics: Annotated[tuple[MetricSpec, ...], Field(min_length=1)]

    _by_name: dict[str, MetricSpec] = PrivateAttr(default_factory=dict)

    @field_validator("metrics")
    @classmethod
    def _unique_names(cls, value: tuple[MetricSpec, ...]) -> tuple[MetricSpec, ...]:
        first: dict[str, int] = {}
        for index, metric in enumerate(value):
            if metric.name in first:
                raise PydanticCustomError(
                    "duplicate_metric",
                    "duplicate metric name {name} (metrics[{first}] and metrics[{index}])",
                    {"name": repr(metric.name), "first": first[metric.name], "index": index},
                )
            first[metric.name] = index
        return value

    def model_post_init(self, context: Any, /) -> None:
        self._by_name.update((metric.name, metric) for metric in self.metrics)

    @property
    def metric_names(self) -> frozenset[str]:
        return frozenset(self._by_name)

    def metric(self, name: str) -> MetricSpec:
        """The spec of ``name``; KeyError names the kind, since the caller often has only a name."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"device kind {self.kind!r} has no metric {name!r}") from None


def _load_file(path: Path) -> DeviceProfile:
    try:
        raw = load_strict(path.read_text(encoding="utf-8"))
    except StrictYamlError as exc:
        raise ProfileError(path, [str(exc)]) from exc
    if raw is None:
        raise ProfileError(path, ["file is empty"])
    if not isinstance(raw, dict):
        raise ProfileError(path, [f"top level must be a mapping, not {type(raw).__name__}"])
    try:
        profile = DeviceProfile.model_validate(raw)
    except ValidationError as exc:
        raise ProfileError(path, format_validation_errors(exc, DeviceProfile)) from exc
    if profile.kind != path.stem:
        # The file name is how people find a kind; letting them differ invites two files
        # defining one kind.
        raise ProfileError(
            path, [f"kind: {profile.kind!r} does not match the file name (expected {path.stem!r})"]
        )
    return profile


def _load_dir(directory: Path) -> dict[str, DeviceProfile]:
    if not directory.is_dir():
        raise FileNotFoundError(f"profile directory {directory} does not exist")
    return {profile.kind: profile for profile in map(_load_file, sorted(directory.glob("*.yaml")))}


@functools.cache
def _shipped() -> dict[str, DeviceProfile]:
    return _load_dir(DEFAULT_PROFILE_DIR)


def load_profiles(directory: Path | None = None) -> dict[str, DeviceProfile]:
    """All ``*.yaml`` profiles of ``directory`` (default: the shipped ones), keyed by kind.

    The shipped set is read once per process; a caller gets its own dict, so mutating it cannot
    change what another component sees.
    """
    if directory is None:
        return dict(_shipped())
    return _load_dir(directory)
