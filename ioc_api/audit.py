"""The audit log: every write through the API, with who, what, when, before and after."""

from __future__ import annotations

from psycopg import Connection
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from ioc_api.auth.principal import Principal


def _doc(value: BaseModel | dict[str, object] | None) -> Jsonb | None:
    if value is None:
        return None
    return Jsonb(value.model_dump(mode="json") if isinstance(value, BaseModel) else value)


def record(
    conn: Connection, principal: Principal, *, action: str, resource: str,
    resource_id: str | None, before: BaseModel | dict[str, object] | None = None,
    after: BaseModel | dict[str, object] | None = None,
) -> None:  # fmt: skip
    conn.execute(
        """INSERT INTO audit_log (actor, role, action, resource, resource_id, before, after)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (principal.name, principal.role.value, action, resource, resource_id, _doc(before),
         _doc(after)),
    )  # fmt: skip
