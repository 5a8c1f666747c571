"""The device registry's service functions: what the API, the CLI and the simulators call.

Status is derived, not stored: a device is ``online`` while its last reading is younger than
three of its kind's expected reporting intervals (Home Assistant's ``expire_after`` idea), so a
device that goes quiet turns ``offline`` without anyone having to notice it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from psycopg import Connection
from psycopg.rows import class_row
from pydantic import BaseModel, ConfigDict, Field

from devices.errors import DeviceNotFoundError
from devices.topics import SEGMENT_RE

# Ids are MQTT topic segments, so they follow the topic grammar's rule exactly.
_ID_PATTERN = f"^{SEGMENT_RE.pattern}$"

# Missed intervals before a device counts as offline; 3 tolerates one lost reading and jitter.
OFFLINE_AFTER_INTERVALS = 3

DeviceStatus = Literal["online", "offline", "never_seen"]


class DeviceIn(BaseModel):
    """A device as provisioned; strict, because provisioning is operator input."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=_ID_PATTERN)
    kind: str
    tenant_id: str = Field(pattern=_ID_PATTERN)
    commune_code: str | None = Field(None, pattern=r"^[0-9]{5}$")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    address: str | None = None
    install_date: date | None = None
    firmware: str | None = None
    tags: list[str] = Field(default_factory=list)


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


_SELECT = """
SELECT d.id, d.kind, d.tenant_id AS tenant, d.commune_code, c.full_name AS commune_name,
       d.lat, d.lon, d.address, d.last_seen,
       CASE WHEN d.last_seen IS NULL THEN 'never_seen'
            WHEN d.last_seen > now() - make_interval(secs => %(k)s * coalesce(
                 (SELECT min(m.interval_s) FROM metrics m WHERE m.kind = d.kind), 60))
            THEN 'online' ELSE 'offline' END AS status
FROM devices d LEFT JOIN communes c ON c.code = d.commune_code
"""


def ensure_tenant(conn: Connection, tenant_id: str, name: str) -> None:
    conn.execute(
        "INSERT INTO tenants (id, name) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
        (tenant_id, name),
    )


def upsert_device(conn: Connection, device: DeviceIn) -> None:
    conn.execute(
        """INSERT INTO devices (id, kind, tenant_id, commune_code, lat, lon, address,
                                install_date, firmware, tags)
           VALUES (%(id)s, %(kind)s, %(tenant_id)s, %(commune_code)s, %(lat)s, %(lon)s,
                   %(address)s, %(install_date)s, %(firmware)s, %(tags)s)
           ON CONFLICT (id) DO UPDATE SET
             kind = EXCLUDED.kind, tenant_id = EXCLUDED.tenant_id,
             commune_code = EXCLUDED.commune_code, lat = EXCLUDED.lat, lon = EXCLUDED.lon,
             address = EXCLUDED.address, install_date = EXCLUDED.install_date,
             firmware = EXCLUDED.firmware, tags = EXCLUDED.tags, updated_at = now()""",
        device.model_dump(),
    )


def list_devices(conn: Connection, *, kind: str | None = None) -> list[DeviceOut]:
    query = _SELECT + (" WHERE d.kind = %(kind)s" if kind else "") + " ORDER BY d.id"
    with conn.cursor(row_factory=class_row(DeviceOut)) as cur:
        return cur.execute(query, {"k": OFFLINE_AFTER_INTERVALS, "kind": kind}).fetchall()


def get_device(conn: Connection, device_id: str) -> DeviceOut:
    with conn.cursor(row_factory=class_row(DeviceOut)) as cur:
        row = cur.execute(
            _SELECT + " WHERE d.id = %(id)s", {"k": OFFLINE_AFTER_INTERVALS, "id": device_id}
        ).fetchone()
    if row is None:
        raise DeviceNotFoundError(device_id)
    return row
