"""Threshold rules: read by every staff role, changed by environment staff and operators.

Handlers translate HTTP to :mod:`analytics.thresholds.service`; each write and its audit
record share one transaction, and the rule's own version history records the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.exceptions import RequestValidationError

from analytics.alerts.preview import Preview, preview_rule
from analytics.thresholds.errors import RuleNotFoundError, RuleValidationError
from analytics.thresholds.models import RuleCreate, RuleOut, RulePatch, RuleSpec, RuleVersion
from analytics.thresholds.models import ScopeType as ScopeTypeEnum
from analytics.thresholds.service import (
    check_references,
    create_rule,
    disable_rule,
    get_rule,
    list_rules,
    rule_versions,
    update_rule,
)
from ioc_api import audit
from ioc_api.auth.deps import require_roles
from ioc_api.auth.principal import Principal, Role
from ioc_api.auth.scope import READERS, require_city_wide
from ioc_api.deps import DbConn

router = APIRouter(tags=["thresholds"])

ThresholdReader = Annotated[
    Principal, Depends(require_roles(*READERS, action="read threshold rules"))
]
ThresholdWriter = Annotated[
    Principal,
    Depends(require_roles(Role.ENVIRONMENT_STAFF, Role.OPERATOR, action="change threshold rules")),
]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown rule"}}
_T = TypeVar("_T")


@contextmanager
def _as_problems() -> Iterator[None]:
    """Service errors as the API's problems: 404, or 422 with field paths like the body's."""
    try:
        yield
    except RuleNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except RuleValidationError as exc:
        raise RequestValidationError(
            [{"loc": ("body", *path.split(".")), "msg": msg, "type": "value_error"}
             for path, msg in exc.problems]
        ) from exc  # fmt: skip


def _call(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    with _as_problems():
        return fn(*args, **kwargs)


@router.get("/thresholds")
def thresholds_index(
    conn: DbConn,
    principal: ThresholdReader,
    kind: str | None = None,
    metric: str | None = None,
    scope_type: ScopeTypeEnum | None = None,
    scope_value: str | None = None,
    enabled: Annotated[bool | None, Query(description="Omit for enabled and disabled")] = None,
) -> list[RuleOut]:
    """Rules in id order; a tenant-bound caller does not see other tenants' scoped rules."""
    return list_rules(conn, kind=kind, metric=metric, scope_type=scope_type,
                      scope_value=scope_value, enabled=enabled,
                      tenant=principal.tenant_scope)  # fmt: skip


@router.post("/thresholds", status_code=201)
def threshold_create(conn: DbConn, principal: ThresholdWriter, rule: RuleCreate) -> RuleOut:
    require_city_wide(principal)
    spec = RuleSpec.model_validate(rule.model_dump(exclude={"reason"}))
    with conn.transaction():
        created = _call(create_rule, conn, spec, changed_by=principal.name, reason=rule.reason)
        assert created is not None  # no seed key, so never skipped
        audit.record(conn, principal, action="create", resource="threshold_rule",
                     resource_id=str(created.id), after=created)  # fmt: skip
    return created


@router.post("/thresholds/preview")
def threshold_preview(conn: DbConn, principal: ThresholdWriter, rule: RuleCreate) -> Preview:
    """How many alerts ``rule`` (the body ``POST /thresholds`` takes) would have raised over
    the last 7 days, replayed from the 1-minute rollups; nothing is stored."""
    spec = RuleSpec.model_validate(rule.model_dump(exclude={"reason"}))
    _call(check_references, conn, spec)
    return preview_rule(conn, spec, tenant=principal.tenant_scope)


@router.get("/thresholds/{rule_id}", responses=_NOT_FOUND)
def threshold_detail(conn: DbConn, principal: ThresholdReader, rule_id: int) -> RuleOut:
    return _visible(conn, principal, rule_id)


@router.patch("/thresholds/{rule_id}", responses=_NOT_FOUND)
def threshold_update(
    conn: DbConn, principal: ThresholdWriter, rule_id: int, patch: RulePatch
) -> RuleOut:
    """Change the fields given (``reason`` required); the merged rule is validated whole.
    ``enabled: true`` re-enables a disabled rule."""
    require_city_wide(principal)
    with conn.transaction():
        before, after = _call(update_rule, conn, rule_id, patch, changed_by=principal.name)
        if after.version != before.version:
            audit.record(conn, principal, action="update", resource="threshold_rule",
                         resource_id=str(rule_id), before=before, after=after)  # fmt: skip
    return after


@router.delete("/thresholds/{rule_id}", responses=_NOT_FOUND)
def threshold_disable(
    conn: DbConn,
    principal: ThresholdWriter,
    rule_id: int,
    reason: Annotated[str, Query(min_length=3, max_length=2000, description="Why")],
) -> RuleOut:
    """Disable, never delete: the versions explain the alerts the rule raised."""
    require_city_wide(principal)
    with conn.transaction():
        before, after = _call(disable_rule, conn, rule_id, changed_by=principal.name,
                              reason=reason)  # fmt: skip
        if after.version != before.version:
            audit.record(conn, principal, action="disable", resource="threshold_rule",
                         resource_id=str(rule_id), before=before, after=after)  # fmt: skip
    return after


@router.get("/thresholds/{rule_id}/versions", responses=_NOT_FOUND)
def threshold_versions(conn: DbConn, principal: ThresholdReader, rule_id: int) -> list[RuleVersion]:
    """Oldest first: who changed the rule, when, why, and what it became."""
    _visible(conn, principal, rule_id)
    return _call(rule_versions, conn, rule_id)


def _visible(conn: DbConn, principal: Principal, rule_id: int) -> RuleOut:
    rule = _call(get_rule, conn, rule_id)
    if principal.tenant_scope is not None:
        seen = list_rules(conn, scope_type=rule.scope_type, scope_value=rule.scope_value,
                          tenant=principal.tenant_scope)  # fmt: skip
        if all(r.id != rule_id for r in seen):
            raise HTTPException(404, f"no threshold rule {rule_id}")
    return rule
