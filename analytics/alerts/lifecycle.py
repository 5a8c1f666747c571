"""What people do to alerts: list, read with the audit trail, acknowledge, resolve, close,
comment, assign. The API and the wall call these; the engine only opens and resolves.

Transitions move forward only (open → acknowledged → resolved → closed; resolve and close may
skip steps). Each is one UPDATE whose audit event the ``alerts_audit`` trigger writes with the
caller as actor and the note given, so the trail cannot miss a change.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Literal

from psycopg import Connection
from psycopg.rows import dict_row

from analytics.alerts.store import set_actor
from analytics.alerts.views import ALERT_COLUMNS, AlertEvent, AlertOut, AlertPage

__all__ = ["AlertError", "AlertNotFoundError", "AlertStateError", "Transition", "assign",
           "comment", "get_alert", "list_alerts", "transition"]  # fmt: skip

Transition = Literal["acknowledge", "resolve", "close"]
MAX_PAGE = 500

# action -> (states it may start from, the SET clause)
_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledge": (("open",), "state = 'acknowledged', acknowledged_at = now(), "
                               "acknowledged_by = %(actor)s"),
    "resolve": (("open", "acknowledged"), "state = 'resolved', resolved_at = now(), "
                                          "resolved_by = %(actor)s"),
    "close": (("open", "acknowledged", "resolved"),
              "state = 'closed', closed_at = now(), closed_by = %(actor)s, "
              "resolved_at = coalesce(resolved_at, now()), "
              "resolved_by = coalesce(resolved_by, %(actor)s)"),
}  # fmt: skip


class AlertError(Exception):
    def __init__(self, alert_id: int, message: str) -> None:
        super().__init__(message)
        self.alert_id = alert_id


class AlertNotFoundError(AlertError):
    def __init__(self, alert_id: int) -> None:
        super().__init__(alert_id, f"no alert {alert_id}")


class AlertStateError(AlertError):
    """The transition does not apply to the alert's state (409)."""


class CursorError(ValueError):
    pass


def _encode_cursor(alert_id: int) -> str:
    return base64.urlsafe_b64encode(f"a:{alert_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("a:"):
            raise ValueError(text)
        return int(text[2:])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise CursorError(f"cursor {cursor!r} is not one this API issued") from exc


def get_alert(
    conn: Connection, alert_id: int, *, events: bool = False, for_update: bool = False
) -> AlertOut:
    lock = " FOR UPDATE" if for_update else ""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = %s{lock}", (alert_id,)
        ).fetchone()
        if row is None:
            raise AlertNotFoundError(alert_id)
        if events:
            row["events"] = cur.execute(
                """SELECT id, time, actor, action, before, after, note FROM alert_events
                   WHERE alert_id = %s ORDER BY id""",
                (alert_id,),
            ).fetchall()
    return AlertOut.model_validate(row)


def list_alerts(
    conn: Connection, *, state: str | None = None, severity: str | None = None,
    kind: str | None = None, device_id: str | None = None, commune: str | None = None,
    tenant: str | None = None, since: datetime | None = None, limit: int = 100,
    cursor: str | None = None,
) -> AlertPage:  # fmt: skip
    """Newest first; ``cursor`` continues after the last item of the previous page."""
    limit = max(1, min(limit, MAX_PAGE))
    params: dict[str, Any] = {
        "state": state, "severity": severity, "kind": kind, "device": device_id,
        "commune": commune, "tenant": tenant, "since": since, "limit": limit + 1,
        "after": _decode_cursor(cursor) if cursor else None,
    }  # fmt: skip
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"""SELECT {ALERT_COLUMNS} FROM alerts
                WHERE (%(state)s::text IS NULL OR state = %(state)s)
                  AND (%(severity)s::text IS NULL OR severity = %(severity)s)
                  AND (%(kind)s::text IS NULL OR kind = %(kind)s)
                  AND (%(device)s::text IS NULL OR device_id = %(device)s)
                  AND (%(commune)s::text IS NULL OR commune_code = %(commune)s)
                  AND (%(tenant)s::text IS NULL OR tenant_id = %(tenant)s)
                  AND (%(since)s::timestamptz IS NULL OR opened_at >= %(since)s)
                  AND (%(after)s::bigint IS NULL OR id < %(after)s)
                ORDER BY id DESC LIMIT %(limit)s""",
            params,
        ).fetchall()
    items = [AlertOut.model_validate(r) for r in rows[:limit]]
    more = len(rows) > limit
    return AlertPage(items=items, next_cursor=_encode_cursor(items[-1].id) if more else None)


def transition(
    conn: Connection, alert_id: int, action: Transition, *, actor: str, note: str = ""
) -> tuple[AlertOut, AlertOut]:
    """(before, after); the caller owns the transaction."""
    allowed, assignments = _TRANSITIONS[action]
    before = get_alert(conn, alert_id, for_update=True)
    if before.state not in allowed:
        raise AlertStateError(alert_id, f"alert {alert_id} is {before.state}; cannot {action}"
                                        f" (only from {', '.join(allowed)})")  # fmt: skip
    set_actor(conn, actor, note)
    conn.execute(
        f"UPDATE alerts SET {assignments}, updated_at = now() WHERE id = %(id)s",
        {"actor": actor, "id": alert_id},
    )
    return before, get_alert(conn, alert_id)


def comment(conn: Connection, alert_id: int, *, actor: str, text: str) -> AlertEvent:
    get_alert(conn, alert_id)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            """INSERT INTO alert_events (alert_id, actor, action, note)
               VALUES (%s, %s, 'comment', %s)
               RETURNING id, time, actor, action, before, after, note""",
            (alert_id, actor, text),
        ).fetchone()
    return AlertEvent.model_validate(row)


def assign(
    conn: Connection, alert_id: int, *, actor: str, assignee: str
) -> tuple[AlertOut, AlertOut]:
    before = get_alert(conn, alert_id, for_update=True)
    if before.state == "closed":
        raise AlertStateError(alert_id, f"alert {alert_id} is closed; cannot assign")
    set_actor(conn, actor)
    conn.execute(
        "UPDATE alerts SET assignee = %s, updated_at = now() WHERE id = %s", (assignee, alert_id)
    )
    return before, get_alert(conn, alert_id)
