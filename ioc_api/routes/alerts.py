"""Alerts (C4): every staff role reads them; operators, environment staff and agency admins
act on them. A tenant-bound caller sees its own tenant's alerts only, and another tenant's
alert answers 404 as if it did not exist. Handlers translate HTTP to
:mod:`analytics.alerts.lifecycle`; each action and its audit record share one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from analytics.alerts.lifecycle import (
    AlertNotFoundError,
    AlertStateError,
    CursorError,
    Transition,
    assign,
    comment,
    get_alert,
    list_alerts,
    transition,
)
from analytics.alerts.views import AlertEvent, AlertOut, AlertPage, AssignIn, CommentIn, NoteIn
from ioc_api import audit
from ioc_api.auth.deps import ForbiddenError, require_roles
from ioc_api.auth.principal import Principal, Role
from ioc_api.auth.scope import READERS
from ioc_api.deps import DbConn

router = APIRouter(tags=["alerts"])

AlertReader = Annotated[Principal, Depends(require_roles(*READERS, action="read alerts"))]
AlertActor = Annotated[
    Principal,
    Depends(
        require_roles(
            Role.OPERATOR, Role.ENVIRONMENT_STAFF, Role.AGENCY_ADMIN, action="act on alerts"
        )
    ),
]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown alert (or another tenant's)"},
    409: {"description": "The action does not apply to the alert's state"},
}


@contextmanager
def _as_problems() -> Iterator[None]:
    try:
        yield
    except AlertNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except AlertStateError as exc:
        raise HTTPException(409, str(exc)) from exc
    except CursorError as exc:
        raise HTTPException(400, str(exc)) from exc


def _visible(conn: DbConn, principal: Principal, alert_id: int, **kw: bool) -> AlertOut:
    with _as_problems():
        alert = get_alert(conn, alert_id, **kw)
    scope = principal.tenant_scope
    if scope is not None and alert.tenant_id != scope:
        raise HTTPException(404, f"no alert {alert_id}")
    return alert


@router.get("/alerts")
def alerts_index(
    conn: DbConn,
    principal: AlertReader,
    state: Literal["open", "acknowledged", "resolved", "closed"] | None = None,
    severity: Literal["advisory", "warning", "critical"] | None = None,
    kind: str | None = None,
    device_id: str | None = None,
    commune: Annotated[str | None, Query(description="Commune code")] = None,
    tenant: str | None = None,
    since: Annotated[datetime | None, Query(description="Opened at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> AlertPage:
    """Newest first, ``limit`` per page; follow ``next_cursor`` for more."""
    scope = principal.tenant_scope
    if scope is not None:
        if tenant not in (None, scope):
            raise ForbiddenError(principal, f"list the alerts of tenant {tenant!r}")
        tenant = scope
    with _as_problems():
        return list_alerts(conn, state=state, severity=severity, kind=kind, device_id=device_id,
                           commune=commune, tenant=tenant, since=since, limit=limit,
                           cursor=cursor)  # fmt: skip


@router.get("/alerts/{alert_id}", responses=_RESPONSES)
def alert_detail(conn: DbConn, principal: AlertReader, alert_id: int) -> AlertOut:
    """The alert with ``events``, its audit trail, oldest first."""
    return _visible(conn, principal, alert_id, events=True)


def _act(
    conn: DbConn, principal: Principal, alert_id: int, action: Transition, note: str
) -> AlertOut:
    with conn.transaction():
        _visible(conn, principal, alert_id)
        with _as_problems():
            before, after = transition(conn, alert_id, action, actor=principal.name, note=note)
        audit.record(conn, principal, action=action, resource="alert",
                     resource_id=str(alert_id), before=before, after=after)  # fmt: skip
    return _visible(conn, principal, alert_id, events=True)


@router.post("/alerts/{alert_id}/acknowledge", responses=_RESPONSES)
def alert_acknowledge(
    conn: DbConn, principal: AlertActor, alert_id: int, body: NoteIn | None = None
) -> AlertOut:
    return _act(conn, principal, alert_id, "acknowledge", body.note if body else "")


@router.post("/alerts/{alert_id}/resolve", responses=_RESPONSES)
def alert_resolve(
    conn: DbConn, principal: AlertActor, alert_id: int, body: NoteIn | None = None
) -> AlertOut:
    return _act(conn, principal, alert_id, "resolve", body.note if body else "")


@router.post("/alerts/{alert_id}/close", responses=_RESPONSES)
def alert_close(
    conn: DbConn, principal: AlertActor, alert_id: int, body: NoteIn | None = None
) -> AlertOut:
    return _act(conn, principal, alert_id, "close", body.note if body else "")


@router.post("/alerts/{alert_id}/comments", status_code=201, responses=_RESPONSES)
def alert_comment(
    conn: DbConn, principal: AlertActor, alert_id: int, body: CommentIn
) -> AlertEvent:
    with conn.transaction():
        _visible(conn, principal, alert_id)
        with _as_problems():
            event = comment(conn, alert_id, actor=principal.name, text=body.text)
        audit.record(conn, principal, action="comment", resource="alert",
                     resource_id=str(alert_id), after={"text": body.text})  # fmt: skip
    return event


@router.post("/alerts/{alert_id}/assign", responses=_RESPONSES)
def alert_assign(conn: DbConn, principal: AlertActor, alert_id: int, body: AssignIn) -> AlertOut:
    with conn.transaction():
        _visible(conn, principal, alert_id)
        with _as_problems():
            before, after = assign(conn, alert_id, actor=principal.name, assignee=body.assignee)
        audit.record(conn, principal, action="assign", resource="alert",
                     resource_id=str(alert_id), before=before, after=after)  # fmt: skip
    return _visible(conn, principal, alert_id, events=True)
