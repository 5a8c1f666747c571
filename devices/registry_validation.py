"""Every rule a device must meet to enter the registry, in one place.

Create, update and the CSV import all go through :func:`check_device`, so a row that imports is
a device the API would accept and the other way round. It collects every problem instead of
stopping at the first, because an operator fixing a spreadsheet wants the whole list at once.
The database is read once per call into a :class:`RegistryContext` (known tenants, profiles),
so checking 20,000 rows is 20,000 pure function calls, not 20,000 queries.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from psycopg import Connection
from psycopg.rows import tuple_row
from pydantic import ValidationError

from devices.communes import Commune, commune_by_code, commune_by_name
from devices.errors import DeviceValidationError, Problem
from devices.geo import TOLERANCE_M, commune_at, distance_to_city_m, distance_to_commune_m
from devices.profiles import DeviceProfile, load_profiles
from devices.registry_models import DeviceIn

__all__ = [
    "LEVEL_METRIC",
    "RegistryContext",
    "check_device",
    "problems_from_pydantic",
    "resolve_commune",
    "validate_device",
]

# Kinds that carry per-site levels, and the metric whose unit and range the levels share.
LEVEL_METRIC: Mapping[str, str] = MappingProxyType({"water_level_gauge": "water_level"})
_LEVELS = ("reference_level", "alert_level", "danger_level")
# Input names people see (API output, CSV columns, CLI options) for the model's field names.
_FIELD_NAMES = {"tenant_id": "tenant", "commune_code": "commune"}
_MAX_TAG = 64


@dataclass(frozen=True, slots=True)
class RegistryContext:
    """What the checks need from the database, read once."""

    tenants: frozenset[str]
    profiles: Mapping[str, DeviceProfile]

    @classmethod
    def load(cls, conn: Connection) -> RegistryContext:
        with conn.cursor(row_factory=tuple_row) as cur:
            tenants = frozenset(row[0] for row in cur.execute("SELECT id FROM tenants"))
        return cls(tenants=tenants, profiles=MappingProxyType(load_profiles()))


def resolve_commune(text: str) -> Commune:
    """A commune by its 5-digit code or by its name; KeyError says what was not found."""
    text = text.strip()
    return commune_by_code(text) if text.isdigit() else commune_by_name(text)


def problems_from_pydantic(exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "(device)"
        value = err.get("input")
        shown = f" (got {value!r})" if isinstance(value, str | int | float) else ""
        problems.append(Problem(_FIELD_NAMES.get(field, field), f"{err['msg']}{shown}"))
    return problems


def _known(names: Iterable[str]) -> str:
    listed = sorted(names)
    return ", ".join(listed[:12]) + (", ..." if len(listed) > 12 else "")


def _stated_commune(device: DeviceIn, out: list[Problem]) -> Commune | None:
    text = device.commune or device.commune_code
    if text is None:
        return None
    try:
        stated = resolve_commune(text)
    except KeyError as exc:
        out.append(Problem("commune", str(exc.args[0])))
        return None
    if device.commune and device.commune_code and stated.code != device.commune_code:
        msg = f"{device.commune!r} is {stated.code}, but commune_code says {device.commune_code}"
        out.append(Problem("commune", msg))
    return stated


def _check_place(device: DeviceIn, out: list[Problem]) -> str | None:
    """The commune code to store: the stated one if the point agrees, else derived from it."""
    stated = _stated_commune(device, out)
    if device.lat is None or device.lon is None:
        out.append(Problem("lat/lon", "required: every device has a place on the map"))
        return stated.code if stated else None
    lat, lon = device.lat, device.lon
    off = distance_to_city_m(lat, lon)
    if off > TOLERANCE_M:
        msg = f"({lat}, {lon}) is outside Hai Phong, {off / 1000:.1f} km from the city boundary"
        out.append(Problem("lat/lon", msg))
        return stated.code if stated else None
    found = commune_at(lat, lon)
    if stated is None:
        return found.code if found else None
    gap = distance_to_commune_m(stated.code, lat, lon)
    if gap > TOLERANCE_M:
        where = f"in {found.name} ({found.code})" if found else "between communes"
        away = f"{gap / 1000:.1f} km from {stated.full_name} ({stated.code})"
        msg = f"({lat}, {lon}) lies {where}, {away}"
        out.append(Problem("commune", msg))
    return stated.code


def _check_levels(device: DeviceIn, profile: DeviceProfile, out: list[Problem]) -> None:
    levels, metric_name = device.levels, LEVEL_METRIC.get(device.kind)
    if levels is None:
        return
    if metric_name is None:
        msg = f"kind {device.kind} has no site levels (only {_known(LEVEL_METRIC)} has)"
        out.append(Problem("levels", msg))
        return
    spec = profile.metric(metric_name)
    unit = spec.unit
    if levels.unit not in (None, unit):
        msg = f"levels are in {unit} (the unit of {metric_name}), not {levels.unit!r}"
        out.append(Problem("levels.unit", msg))
    values = {name: getattr(levels, name) for name in _LEVELS}
    for name, value in values.items():
        if value is None:
            out.append(
                Problem(f"levels.{name}", "required: reference, alert and danger go together")
            )
        elif not spec.min <= value <= spec.max:
            msg = f"{value:g} {unit} is outside the gauge's range {spec.min:g}..{spec.max:g} {unit}"
            out.append(Problem(f"levels.{name}", msg))
    for low, high in itertools.pairwise(_LEVELS):
        below, above = values[low], values[high]
        if below is not None and above is not None and above <= below:
            msg = f"must be above {low} ({below:g} {unit}), got {above:g} {unit}"
            out.append(Problem(f"levels.{high}", msg))


def _check_tags(tags: list[str], out: list[Problem]) -> list[str]:
    """Tags trimmed, without blanks and repeats, in the order given."""
    cleaned = list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
    for tag in cleaned:
        if ";" in tag or len(tag) > _MAX_TAG:
            msg = f"{tag!r}: a tag has at most {_MAX_TAG} characters and no ';' (the CSV separator)"
            out.append(Problem("tags", msg))
    return cleaned


def check_device(device: DeviceIn, ctx: RegistryContext) -> tuple[DeviceIn, list[Problem]]:
    """The device as it is to be stored (commune resolved to a code, levels' unit set) and
    every problem found; the device is only meaningful when the list is empty."""
    out: list[Problem] = []
    profile = ctx.profiles.get(device.kind)
    if profile is None:
        out.append(Problem("kind", f"unknown kind {device.kind!r} (known: {_known(ctx.profiles)})"))
    if device.tenant_id not in ctx.tenants:
        msg = f"unknown tenant {device.tenant_id!r}: tenants are provisioned first"
        out.append(Problem("tenant", f"{msg} (known: {_known(ctx.tenants) or 'none'})"))
    code = _check_place(device, out)
    tags = _check_tags(device.tags, out)
    levels = device.levels
    if profile is not None:
        _check_levels(device, profile, out)
        if levels is not None and device.kind in LEVEL_METRIC:
            unit = profile.metric(LEVEL_METRIC[device.kind]).unit
            levels = levels.model_copy(update={"unit": unit})
    update = {"commune_code": code, "commune": None, "levels": levels, "tags": tags}
    return device.model_copy(update=update), out


def validate_device(
    conn: Connection, device: DeviceIn, *, ctx: RegistryContext | None = None
) -> DeviceIn:
    """The device ready to store, or DeviceValidationError listing every problem."""
    checked, problems = check_device(device, ctx or RegistryContext.load(conn))
    if problems:
        raise DeviceValidationError(device.id, problems)
    return checked
