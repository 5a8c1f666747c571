"""Findings into alert rows: the one place alerts are opened, re-graded and resolved.

Every detector (threshold rules, quality, forecast) goes through :func:`apply_findings`, so the
dedupe rule (one live alert per kind, device and key), the audit trail (the ``alerts_audit``
trigger of migration 0012) and the notification outbox cannot differ between them. Each
change and its outbox row are written in one transaction: either both exist or neither.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from analytics.alerts.model import AlertChange, ChangeOp, Finding

__all__ = ["apply_findings", "enqueue_notification", "set_actor"]

log = logging.getLogger(__name__)

LIVE = "state IN ('open', 'acknowledged')"
RETURNING = """RETURNING id, kind, device_id, tenant_id, key, severity, state, title,
    coalesce(nullif(reason, ''), detail) AS reason, event_time, last_event_time, metric,
    value, threshold, commune_code, escalation_level, labels"""

_OPEN = f"""
INSERT INTO alerts (kind, severity, device_id, tenant_id, commune_code, key, title, reason,
                    metric, value, threshold, event_time, last_event_time, rule_id,
                    rule_version, labels, source)
SELECT %(kind)s, %(severity)s, d.id, d.tenant_id, d.commune_code, %(key)s, %(title)s,
       %(reason)s, %(metric)s, %(value)s, %(threshold)s, %(time)s, %(time)s, %(rule_id)s,
       %(rule_version)s, %(labels)s, %(source)s
FROM devices d WHERE d.id = %(device_id)s
ON CONFLICT (kind, device_id, key) WHERE {LIVE} DO NOTHING
{RETURNING}"""

_REGRADE = f"""
UPDATE alerts SET severity = %(severity)s, title = %(title)s, reason = %(reason)s,
       value = %(value)s, threshold = %(threshold)s, last_event_time = %(time)s,
       rule_version = coalesce(%(rule_version)s, rule_version), updated_at = now()
WHERE kind = %(kind)s AND device_id = %(device_id)s AND key = %(key)s AND {LIVE}
  AND severity <> %(severity)s
{RETURNING}"""

_RESOLVE = f"""
UPDATE alerts SET state = 'resolved', resolved_at = now(), resolved_by = %(source)s,
       last_event_time = %(time)s, updated_at = now()
WHERE kind = %(kind)s AND device_id = %(device_id)s AND key = %(key)s AND {LIVE}
{RETURNING}"""


def set_actor(conn: Connection, actor: str, note: str | None = None) -> None:
    """Name who is changing alerts in this transaction, for the audit trigger."""
    conn.execute(
        "SELECT set_config('ioc.alert_actor', %s, true), set_config('ioc.alert_note', %s, true)",
        (actor, note or ""),
    )


def _params(finding: Finding, source: str) -> dict[str, Any]:
    return {
        "kind": finding.kind, "severity": finding.severity, "device_id": finding.device_id,
        "key": finding.key, "title": finding.title, "reason": finding.reason,
        "metric": finding.metric, "value": finding.value, "threshold": finding.threshold,
        "time": finding.time, "rule_id": finding.rule_id, "rule_version": finding.rule_version,
        "labels": Jsonb(dict(finding.labels)), "source": source,
    }  # fmt: skip


def change_from_row(op: ChangeOp, row: dict[str, Any]) -> AlertChange:
    return AlertChange(
        alert_id=row["id"], op=op, kind=row["kind"], device_id=row["device_id"],
        tenant_id=row["tenant_id"], key=row["key"], severity=row["severity"],
        state=row["state"], title=row["title"], reason=row["reason"],
        event_time=row["last_event_time"] or row["event_time"], metric=row["metric"],
        value=row["value"], threshold=row["threshold"], commune_code=row["commune_code"],
        escalation_level=row["escalation_level"], labels=row["labels"] or {},
    )  # fmt: skip


def enqueue_notification(conn: Connection, change: AlertChange) -> None:
    """The outbox row the notifier delivers (analytics.alerts.notify)."""
    conn.execute(
        "INSERT INTO alert_outbox (alert_id, payload) VALUES (%s, %s)",
        (change.alert_id, Jsonb(change.as_payload())),
    )


def _apply_one(conn: Connection, finding: Finding, source: str) -> AlertChange | None:
    params = _params(finding, source)
    with conn.cursor(row_factory=dict_row) as cur:
        if not finding.active:
            set_actor(conn, source, finding.reason)
            row = cur.execute(_RESOLVE, params).fetchone()
            return None if row is None else change_from_row("resolved", row)
        set_actor(conn, source)
        row = cur.execute(_OPEN, params).fetchone()
        if row is not None:
            return change_from_row("opened", row)
        row = cur.execute(_REGRADE, params).fetchone()
        return None if row is None else change_from_row("severity", row)


def apply_findings(
    conn: Connection, findings: Iterable[Finding], *, source: str
) -> list[AlertChange]:
    """Open, re-grade or resolve alerts for ``findings``; returns what changed.

    An active finding opens an alert unless one is live for its (kind, device, key), in which
    case only a different severity changes it (so a detector may repeat itself every reading
    at no cost). An inactive finding resolves the live alert, if any. A finding for a device
    the registry does not know changes nothing. ``source`` names the writer in the alert and
    its audit trail (``engine``, ``quality``, ``forecast``).
    """
    changes: list[AlertChange] = []
    batch = list(findings)
    if not batch:
        return changes
    with conn.transaction():
        for finding in batch:
            change = _apply_one(conn, finding, source)
            if change is None:
                continue
            enqueue_notification(conn, change)
            changes.append(change)
    for change in changes:
        log.info("alert %s %s %s/%s/%s %s", change.alert_id, change.op, change.kind,
                 change.device_id, change.key, change.severity)  # fmt: skip
    return changes
