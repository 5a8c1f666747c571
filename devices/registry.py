"""The device registry's service functions: what the API, the CLI and the simulators call.

Status is derived, not stored: a device is ``online`` while its last reading is younger than
three of its kind's expected reporting intervals (Home Assistant's ``expire_after`` idea), so a
device that goes quiet turns ``offline`` without anyone having to notice it.

Deleting a device that has reported *retires* it instead (``retired_at``): telemetry refers to
devices by their integer key without a foreign key (that is what keeps ingest fast), so removing
the row would leave readings nobody can name, and a later device with the same id would not be
the same device. A device that never reported is removed outright, which is how a provisioning
mistake is undone. ``create_device``, ``update_device`` and the CSV import validate through
:mod:`devices.registry_validation`; ``upsert_device`` is the unchecked path of simulators and
tests that set up their own fixtures.
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from devices.errors import DeviceExistsError, DeviceNotFoundError, DeviceValidationError, Problem
from devices.registry_models import (
    DeleteOutcome,
    DeviceIn,
    DeviceOut,
    DevicePage,
    DeviceStatus,
    DeviceUpdate,
    SiteLevels,
)
from devices.registry_query import (
    OFFLINE_AFTER_INTERVALS,
    get_device,
    list_devices,
    page_devices,
)
from devices.registry_validation import RegistryContext, resolve_commune, validate_device

__all__ = [
    "OFFLINE_AFTER_INTERVALS",
    "DeleteOutcome",
    "DeviceIn",
    "DeviceOut",
    "DevicePage",
    "DeviceStatus",
    "DeviceUpdate",
    "SiteLevels",
    "create_device",
    "delete_device",
    "ensure_tenant",
    "get_device",
    "insert_devices",
    "list_devices",
    "page_devices",
    "update_device",
    "upsert_device",
]

_COLUMNS = "id, kind, tenant_id, commune_code, lat, lon, address, install_date, firmware, tags"
_VALUES = """%(id)s, %(kind)s, %(tenant_id)s, %(commune_code)s, %(lat)s, %(lon)s, %(address)s,
             %(install_date)s, %(firmware)s, %(tags)s"""
_INSERT = f"INSERT INTO devices ({_COLUMNS}, attributes) VALUES ({_VALUES}, %(attributes)s)"
# Only the "levels" key of attributes belongs to the registry; other keys are left alone.
_SET = """kind = %(kind)s, tenant_id = %(tenant_id)s, commune_code = %(commune_code)s,
          lat = %(lat)s, lon = %(lon)s, address = %(address)s, install_date = %(install_date)s,
          firmware = %(firmware)s, tags = %(tags)s,
          attributes = (devices.attributes - 'levels') || %(attributes)s, updated_at = now()"""
UPDATE_SQL = f"UPDATE devices SET {_SET} WHERE id = %(id)s"


def _params(device: DeviceIn) -> dict[str, Any]:
    row = device.model_dump(exclude={"commune", "levels"})
    if device.commune and not device.commune_code:
        row["commune_code"] = resolve_commune(device.commune).code
    levels = device.levels.model_dump() if device.levels else None
    row["attributes"] = Jsonb({"levels": levels} if levels else {})
    return row


def ensure_tenant(conn: Connection, tenant_id: str, name: str) -> None:
    conn.execute(
        "INSERT INTO tenants (id, name) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
        (tenant_id, name),
    )


def upsert_device(conn: Connection, device: DeviceIn) -> None:
    """Insert or overwrite without the registry's checks (simulators, benchmarks, fixtures)."""
    conn.execute(
        f"{_INSERT} ON CONFLICT (id) DO UPDATE SET {_SET}",
        _params(device),
    )


def insert_devices(conn: Connection, devices: list[DeviceIn], *, update: bool = False) -> None:
    """Write already validated devices; the caller owns the transaction (all or nothing)."""
    with conn.cursor() as cur:
        cur.executemany(UPDATE_SQL if update else _INSERT, [_params(d) for d in devices])


def create_device(
    conn: Connection, device: DeviceIn, *, ctx: RegistryContext | None = None
) -> DeviceOut:
    """Register a new device; DeviceValidationError lists what is wrong, DeviceExistsError
    says the id is taken (also by a retired device)."""
    device = validate_device(conn, device, ctx=ctx)
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(f"{_INSERT} ON CONFLICT (id) DO NOTHING RETURNING id", _params(device))
        if cur.fetchone() is None:
            row = cur.execute(
                "SELECT retired_at IS NOT NULL FROM devices WHERE id = %s", (device.id,)
            ).fetchone()
            raise DeviceExistsError(device.id, retired=bool(row and row[0]))
    return get_device(conn, device.id)


def stored_device(conn: Connection, device_id: str) -> DeviceIn:
    """The registry entry as input (what an update starts from)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {_COLUMNS}, attributes -> 'levels' AS levels FROM devices WHERE id = %s",
            (device_id,),
        ).fetchone()
    if row is None:
        raise DeviceNotFoundError(device_id)
    return DeviceIn.model_validate(row)


def apply_update(current: DeviceIn, patch: DeviceUpdate) -> DeviceIn:
    """``current`` with the fields ``patch`` sets; moving a device without naming a commune
    re-derives its commune from the new point, since the old one may no longer hold."""
    changes = patch.model_dump(exclude_unset=True, exclude={"levels", "kind"})
    if patch.kind is not None and patch.kind != current.kind:
        msg = f"cannot change from {current.kind} to {patch.kind}: readings are stored per kind; "
        msg += "delete the device and register a new one"
        raise DeviceValidationError(current.id, [Problem("kind", msg)])
    if "commune" in changes or {"lat", "lon"} & changes.keys():
        changes["commune_code"] = None
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    if "levels" in patch.model_fields_set:
        levels = patch.levels.model_dump(exclude_unset=True) if patch.levels else None
        if levels is not None and current.levels is not None:
            levels = {**current.levels.model_dump(exclude={"unit"}), **levels}
        changes["levels"] = levels
    return DeviceIn.model_validate({**current.model_dump(), **changes})


def update_device(
    conn: Connection, device_id: str, patch: DeviceUpdate, *, ctx: RegistryContext | None = None
) -> DeviceOut:
    """Change some fields; the result is checked as a whole, as a new device would be."""
    device = validate_device(conn, apply_update(stored_device(conn, device_id), patch), ctx=ctx)
    conn.execute(UPDATE_SQL, _params(device))
    return get_device(conn, device_id)


def delete_device(conn: Connection, device_id: str) -> DeleteOutcome:
    """Remove a device that never reported, retire one that did (see the module docstring)."""
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(
            "SELECT key, retired_at IS NOT NULL, last_seen IS NOT NULL FROM devices"
            " WHERE id = %s FOR UPDATE",
            (device_id,),
        ).fetchone()
        if row is None:
            raise DeviceNotFoundError(device_id)
        key, retired, seen = row
        if retired:
            return "retired"
        reported = seen or cur.execute(
            "SELECT EXISTS (SELECT 1 FROM telemetry WHERE device_key = %s)", (key,)
        ).fetchone() == (True,)
        if reported:
            cur.execute(
                "UPDATE devices SET retired_at = now(), updated_at = now() WHERE id = %s",
                (device_id,),
            )
            return "retired"
        cur.execute("DELETE FROM devices WHERE id = %s", (device_id,))
        return "deleted"
