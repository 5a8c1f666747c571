"""Escalation: an alert still unacknowledged after its severity's time goes up one level, and
again after each further period, up to ``alerts_escalation_max_level``.

Wall-clock time, unlike detection: it measures how long people have left an alert unanswered,
which a replay at speed does not change. Each step is an audited change and a notification
(op ``escalated``) so the integration platform can page the next person.
"""

from __future__ import annotations

from psycopg import Connection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from analytics.alerts.model import AlertChange
from analytics.alerts.store import RETURNING, change_from_row, enqueue_notification, set_actor

__all__ = ["escalate_due"]

_ESCALATE = f"""
UPDATE alerts SET escalation_level = escalation_level + 1, escalated_at = now(),
       updated_at = now()
WHERE state = 'open' AND escalation_level < %(max)s AND %(after)s ? severity
  AND now() - coalesce(escalated_at, opened_at)
      >= make_interval(secs => (%(after)s ->> severity)::float8)
{RETURNING}"""


def escalate_due(conn: Connection, after_s: dict[str, float], max_level: int) -> list[AlertChange]:
    if max_level <= 0 or not after_s:
        return []
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        set_actor(conn, "escalation")
        rows = cur.execute(_ESCALATE, {"max": max_level, "after": Jsonb(after_s)}).fetchall()
        changes = [change_from_row("escalated", row) for row in rows]
        for change in changes:
            enqueue_notification(conn, change)
    return changes
