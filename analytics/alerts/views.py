"""Alerts as the API and the wall show them (C4's alert JSON), and their audit events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ALERT_COLUMNS", "AlertEvent", "AlertOut", "AlertPage", "AssignIn", "CommentIn",
           "NoteIn"]  # fmt: skip

AlertState = Literal["open", "acknowledged", "resolved", "closed"]

ALERT_COLUMNS = """id, kind, key, severity, state, device_id, tenant_id, commune_code, title,
    coalesce(nullif(reason, ''), detail) AS reason, metric, value, threshold, rule_id,
    rule_version, source, event_time, last_event_time, opened_at, updated_at, acknowledged_at,
    acknowledged_by, resolved_at, resolved_by, closed_at, closed_by, assignee,
    escalation_level, escalated_at, labels"""


class AlertEvent(BaseModel):
    id: int
    time: datetime
    actor: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str | None


class AlertOut(BaseModel):
    id: int
    kind: str
    key: str
    severity: str
    state: AlertState
    device_id: str | None
    tenant_id: str | None
    commune_code: str | None
    title: str
    reason: str
    metric: str | None
    value: float | None
    threshold: float | None
    rule_id: int | None
    rule_version: int | None
    source: str
    event_time: datetime | None = Field(description="Event time of the evidence that opened it")
    last_event_time: datetime | None
    opened_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    assignee: str | None
    escalation_level: int
    escalated_at: datetime | None
    labels: dict[str, str]
    events: list[AlertEvent] | None = Field(None, description="Audit trail (detail only)")


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field("", max_length=2000)


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: str = Field(min_length=1, max_length=200)
