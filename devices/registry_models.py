"""The registry's request and response models, shared by the API, the CLI and the CSV import.

Provisioning is operator input, so the input models forbid unknown keys (a typo such as
``adress`` is an error, not a silently dropped field). The commune may be given by code or by
name because people type names and other systems send the national code; it is stored as code.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from devices.topics import SEGMENT_RE

__all__ = [
    "MAX_PAGE",
    "DeleteOutcome",
    "DeviceIn",
    "DeviceOut",
    "DevicePage",
    "DeviceStatus",
    "DeviceUpdate",
    "SiteLevels",
    "StatusFilter",
]

# Ids are MQTT topic segments, so they follow the topic grammar's rule exactly.
_ID_PATTERN = f"^{SEGMENT_RE.pattern}$"

# The largest page: the wall loads every device in one request and is sized for 20,000.
MAX_PAGE = 20_000

DeviceStatus = Literal["online", "offline", "never_seen"]
StatusFilter = Literal["online", "offline", "never_seen", "retired"]
DeleteOutcome = Literal["deleted", "retired"]

_Level = Annotated[float | None, Field(allow_inf_nan=False)]
_TENANT = AliasChoices("tenant_id", "tenant")  # the output says "tenant"; accept it back


class SiteLevels(BaseModel):
    """A gauge's per-site water levels, in its profile's unit (cm for ``water_level_gauge``).

    They differ from station to station and change by decision of the authorities, so they
    live with the registry entry, not in the profile. ``unit`` is filled in from the profile;
    a caller may send it to confirm which unit the numbers are in, and a different one is an
    error rather than a silent factor of 100.
    """

    model_config = ConfigDict(extra="forbid")

    reference_level: _Level = None
    alert_level: _Level = None
    danger_level: _Level = None
    unit: str | None = None


class DeviceIn(BaseModel):
    """A device as provisioned; strict, because provisioning is operator input."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=_ID_PATTERN)
    kind: str
    tenant_id: str = Field(pattern=_ID_PATTERN, validation_alias=_TENANT)
    # Either field names the commune; ``commune`` takes a code or a name ("An Biên").
    commune_code: str | None = Field(None, pattern=r"^[0-9]{5}$")
    commune: str | None = None
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    address: str | None = None
    install_date: date | None = None
    firmware: str | None = None
    tags: list[str] = Field(default_factory=list)
    levels: SiteLevels | None = None


class DeviceUpdate(BaseModel):
    """A partial change: fields left out keep their value, an explicit null clears one.

    ``kind`` is accepted only to refuse a change with a reason: readings are stored per
    (kind, metric), so a device that changes kind is a new device.
    """

    model_config = ConfigDict(extra="forbid")

    kind: str | None = None
    tenant_id: str | None = Field(None, pattern=_ID_PATTERN, validation_alias=_TENANT)
    commune: str | None = None
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    address: str | None = None
    install_date: date | None = None
    firmware: str | None = None
    tags: list[str] | None = None
    levels: SiteLevels | None = None


class DeviceOut(BaseModel):
    id: str
    kind: str
    tenant: str
    commune_code: str | None
    commune_name: str | None
    lat: float | None
    lon: float | None
    address: str | None
    status: DeviceStatus
    last_seen: datetime | None
    install_date: date | None = None
    firmware: str | None = None
    tags: list[str] = Field(default_factory=list)
    levels: SiteLevels | None = None
    # Set when the device was deleted after it had reported: kept for its history, hidden
    # from lists unless asked for with status=retired.
    retired_at: datetime | None = None


class DevicePage(BaseModel):
    """One page of a listing; ``total`` counts every match, ``next_after`` continues it."""

    items: list[DeviceOut]
    total: int
    next_after: str | None = Field(
        None, description="Pass as `after` for the next page; null on the last page."
    )
