"""Reading and changing threshold rules; every change writes a version with who, when and why.

The API and the seeds call these functions; callers own the transaction (the API wraps a write
and its audit record in one).
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from analytics.thresholds.errors import RuleNotFoundError, RuleValidationError
from analytics.thresholds.models import (
    RuleChange,
    RuleOut,
    RulePatch,
    RuleSpec,
    RuleVersion,
    ScopeType,
)

_COLUMNS = """id, name, kind, metric, scope_type, scope_value, comparison, levels, clear_level,
    min_duration_s, "window", active_hours, enabled, version, seed_key, created_at, updated_at"""
_SPEC_FIELDS = tuple(RuleSpec.model_fields)
_JSON_FIELDS = {"levels", "clear_level", "active_hours"}
_REFERENCES = {ScopeType.COMMUNE: ("communes", "code"), ScopeType.TENANT: ("tenants", "id")}


def _params(spec: RuleSpec) -> dict[str, Any]:
    doc = spec.model_dump(mode="json")
    return {k: Jsonb(v) if k in _JSON_FIELDS and v is not None else v for k, v in doc.items()}


def check_references(conn: Connection, spec: RuleSpec) -> None:
    """The scope names something that exists (a device of the rule's kind, a commune, a
    tenant); the models cannot see the database, so this runs on every API write."""
    value = spec.scope_value
    with conn.cursor(row_factory=tuple_row) as cur:
        if spec.scope_type is ScopeType.DEVICE:
            row = cur.execute(
                "SELECT kind FROM devices WHERE id = %s AND retired_at IS NULL", (value,)
            ).fetchone()
            if row is None:
                raise RuleValidationError("scope_value", f"no device {value!r}")
            if row[0] != spec.kind:
                raise RuleValidationError("scope_value", f"device {value!r} is a {row[0]}")
            return
        table, column = _REFERENCES.get(spec.scope_type, (None, None))
        if table is None:
            return
        query = f"SELECT 1 FROM {table} WHERE {column} = %s"
        if cur.execute(query, (value,)).fetchone() is None:
            raise RuleValidationError("scope_value", f"no {spec.scope_type} {value!r}")


def _write_version(
    conn: Connection, rule: RuleOut, *, change: RuleChange, changed_by: str, reason: str
) -> None:
    conn.execute(
        """INSERT INTO threshold_rule_versions
               (rule_id, version, change, changed_by, changed_at, reason, rule)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (rule.id, rule.version, change, changed_by, rule.updated_at, reason,
         Jsonb(rule.spec().model_dump(mode="json"))),
    )  # fmt: skip


def create_rule(
    conn: Connection, spec: RuleSpec, *, changed_by: str, reason: str, seed_key: str | None = None
) -> RuleOut | None:
    """Insert a rule at version 1. With a ``seed_key`` already present nothing is written and
    None is returned: seeds never overwrite what staff have changed since."""
    check_references(conn, spec)
    params = {**_params(spec), "seed_key": seed_key}
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"""INSERT INTO threshold_rules (name, kind, metric, scope_type, scope_value,
                    comparison, levels, clear_level, min_duration_s, "window", active_hours,
                    enabled, seed_key)
                VALUES (%(name)s, %(kind)s, %(metric)s, %(scope_type)s, %(scope_value)s,
                    %(comparison)s, %(levels)s, %(clear_level)s, %(min_duration_s)s,
                    %(window)s, %(active_hours)s, %(enabled)s, %(seed_key)s)
                ON CONFLICT (seed_key) DO NOTHING
                RETURNING {_COLUMNS}""",
            params,
        ).fetchone()
    if row is None:
        return None
    rule = RuleOut.model_validate(row)
    _write_version(conn, rule, change="create", changed_by=changed_by, reason=reason)
    return rule


def get_rule(conn: Connection, rule_id: int, *, for_update: bool = False) -> RuleOut:
    lock = " FOR UPDATE" if for_update else ""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {_COLUMNS} FROM threshold_rules WHERE id = %s{lock}", (rule_id,)
        ).fetchone()
    if row is None:
        raise RuleNotFoundError(rule_id)
    return RuleOut.model_validate(row)


def list_rules(
    conn: Connection, *, kind: str | None = None, metric: str | None = None,
    scope_type: ScopeType | None = None, scope_value: str | None = None,
    enabled: bool | None = None, tenant: str | None = None,
) -> list[RuleOut]:  # fmt: skip
    """Rules matching every filter given, in id order. With ``tenant``, rules scoped to another
    tenant or to another tenant's device are left out."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"""SELECT {_COLUMNS} FROM threshold_rules
                WHERE (%(kind)s::text IS NULL OR kind = %(kind)s)
                  AND (%(metric)s::text IS NULL OR metric = %(metric)s)
                  AND (%(scope_type)s::text IS NULL OR scope_type = %(scope_type)s)
                  AND (%(scope_value)s::text IS NULL OR scope_value = %(scope_value)s)
                  AND (%(enabled)s::boolean IS NULL OR enabled = %(enabled)s)
                  AND (%(tenant)s::text IS NULL
                       OR scope_type IN ('all', 'kind', 'commune')
                       OR (scope_type = 'tenant' AND scope_value = %(tenant)s)
                       OR (scope_type = 'device' AND scope_value IN
                           (SELECT id FROM devices WHERE tenant_id = %(tenant)s)))
                ORDER BY id""",
            {"kind": kind, "metric": metric, "scope_type": scope_type,
             "scope_value": scope_value, "enabled": enabled, "tenant": tenant},
        ).fetchall()  # fmt: skip
    return [RuleOut.model_validate(r) for r in rows]


def merged_spec(current: RuleOut, patch: RulePatch) -> RuleSpec:
    """The rule as it would be after ``patch``, validated as a whole."""
    doc = {**current.spec().model_dump(mode="json"), **patch.changes()}
    given = patch.model_fields_set
    if "scope_value" not in given and given & {"scope_type", "kind"}:
        doc["scope_value"] = None  # a kind scope follows the kind; other scopes must name one
    try:
        return RuleSpec.model_validate(doc)
    except ValidationError as exc:
        raise RuleValidationError.from_pydantic(exc) from exc


def update_rule(
    conn: Connection, rule_id: int, patch: RulePatch, *, changed_by: str,
    change: RuleChange = "update",
) -> tuple[RuleOut, RuleOut]:  # fmt: skip
    """(before, after). A patch that changes nothing writes nothing and returns the rule."""
    before = get_rule(conn, rule_id, for_update=True)
    spec = merged_spec(before, patch)
    if spec == before.spec():
        return before, before
    check_references(conn, spec)
    params = {**_params(spec), "id": rule_id}
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"""UPDATE threshold_rules SET name = %(name)s, kind = %(kind)s, metric = %(metric)s,
                    scope_type = %(scope_type)s, scope_value = %(scope_value)s,
                    comparison = %(comparison)s, levels = %(levels)s,
                    clear_level = %(clear_level)s, min_duration_s = %(min_duration_s)s,
                    "window" = %(window)s, active_hours = %(active_hours)s,
                    enabled = %(enabled)s, version = version + 1, updated_at = now()
                WHERE id = %(id)s RETURNING {_COLUMNS}""",
            params,
        ).fetchone()
    assert row is not None  # locked above
    after = RuleOut.model_validate(row)
    _write_version(conn, after, change=change, changed_by=changed_by, reason=patch.reason)
    return before, after


def disable_rule(
    conn: Connection, rule_id: int, *, changed_by: str, reason: str
) -> tuple[RuleOut, RuleOut]:
    """Rules are never deleted (their versions explain past alerts); disabling is a version."""
    patch = RulePatch(reason=reason, enabled=False)
    return update_rule(conn, rule_id, patch, changed_by=changed_by, change="disable")


def rule_versions(conn: Connection, rule_id: int) -> list[RuleVersion]:
    get_rule(conn, rule_id)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """SELECT rule_id, version, change, changed_by, changed_at, reason, rule
               FROM threshold_rule_versions WHERE rule_id = %s ORDER BY version""",
            (rule_id,),
        ).fetchall()
    return [RuleVersion.model_validate(r) for r in rows]
