"""FIWARE IoT Agent service groups: what an API key on ``/json/{apikey}/{device}/attrs`` means.

An IoT Agent device names neither its tenant nor its kind: it publishes under an API key that
its operator was given. The service group behind that key fixes both, and maps the short
attribute names such firmware sends (FIWARE's ``object_id``, e.g. ``t``) to our metric names
(``temperature``), so a fleet already talking to a FIWARE IoT Agent joins without new firmware.
Ingest still checks each device against the registry: a key does not let anyone write readings
for a device of another tenant or kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from psycopg import Connection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field

from devices._names import METRIC_NAME_PATTERN
from devices.errors import ContractError
from devices.topics import SEGMENT_RE

__all__ = [
    "APIKEY_PATTERN",
    "ServiceGroup",
    "ServiceGroupError",
    "ServiceGroupIn",
    "list_service_groups",
    "upsert_service_group",
]

# The key is an MQTT topic level, so no '/', '+', '#' or spaces; at least 8 characters so it
# cannot be found by trying a few. Same rule as the CHECK in migration 0003.
APIKEY_PATTERN = r"^[A-Za-z0-9._~-]{8,128}$"
# An IoT Agent attribute name as the device sends it; short, and never a topic separator.
_OBJECT_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"

ObjectId = Annotated[str, Field(pattern=_OBJECT_ID_PATTERN)]
MetricName = Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]


class ServiceGroupError(ContractError):
    """A service group that names a kind or metrics the catalogue does not have."""

    def __init__(self, apikey_hint: str, problems: list[str]) -> None:
        super().__init__(f"service group {apikey_hint}: " + "; ".join(problems))
        self.problems = tuple(problems)


class ServiceGroupIn(BaseModel):
    """A service group as provisioned; strict, because provisioning is operator input."""

    model_config = ConfigDict(extra="forbid", strict=True)

    apikey: str = Field(pattern=APIKEY_PATTERN)
    tenant_id: str = Field(pattern=f"^{SEGMENT_RE.pattern}$")
    kind: str = Field(pattern=METRIC_NAME_PATTERN)
    # object_id -> metric name; attributes not listed are read as metric names as they are.
    attributes: dict[ObjectId, MetricName] = Field(default_factory=dict)


class ServiceGroup(ServiceGroupIn):
    model_config = ConfigDict(extra="forbid")

    created_at: datetime


def upsert_service_group(conn: Connection, group: ServiceGroupIn) -> None:
    """Create or replace a group; raises :class:`ServiceGroupError` for an unknown kind or
    metric, so a typo is refused here instead of dead-lettering every message later."""
    metrics = {
        r[0] for r in conn.execute("SELECT name FROM metrics WHERE kind = %s", (group.kind,))
    }
    # Never the whole key in an error message: it ends up in logs.
    hint = f"{group.apikey[:4]}…"
    if not metrics:
        raise ServiceGroupError(hint, [f"kind {group.kind!r} has no profile"])
    unknown = [
        f"attribute {object_id!r} maps to {name!r}, not a metric of {group.kind}"
        for object_id, name in sorted(group.attributes.items())
        if name not in metrics
    ]
    if unknown:
        raise ServiceGroupError(hint, unknown)
    conn.execute(
        """INSERT INTO iota_service_groups (apikey, tenant_id, kind, attributes)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (apikey) DO UPDATE SET
             tenant_id = EXCLUDED.tenant_id, kind = EXCLUDED.kind,
             attributes = EXCLUDED.attributes""",
        (group.apikey, group.tenant_id, group.kind, Jsonb(group.attributes)),
    )


def list_service_groups(conn: Connection) -> list[ServiceGroup]:
    with conn.cursor(row_factory=class_row(ServiceGroup)) as cur:
        return cur.execute(
            "SELECT apikey, tenant_id, kind, attributes, created_at FROM iota_service_groups "
            "ORDER BY tenant_id, apikey"
        ).fetchall()
