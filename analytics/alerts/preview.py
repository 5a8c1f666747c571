"""``POST /thresholds/preview``: how many alerts a rule would have raised over the last days.

The rule is replayed through the engine's own :class:`ThresholdDetector` over the 1-minute
rollups (the minute's mean stands for its readings: an instant rule sees one value a minute,
which is how often most stations report), device by device, counting the findings that would
have opened an alert. Staff see the cost of a level before they commit to it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from psycopg import Connection
from psycopg.rows import tuple_row
from pydantic import BaseModel

from analytics.alerts.model import Reading
from analytics.alerts.thresholds import ThresholdDetector
from analytics.alerts.windows import HOUR
from analytics.thresholds import RuleOut, RuleSpec, ScopeType

__all__ = ["Preview", "preview_rule"]

DAYS = 7
SAMPLE = 20

_DEVICES = """SELECT d.key, d.id, d.tenant_id, d.commune_code FROM devices d
    WHERE d.kind = %(kind)s AND d.retired_at IS NULL
      AND (%(scope)s = 'all' OR %(scope)s = 'kind'
           OR (%(scope)s = 'device' AND d.id = %(value)s)
           OR (%(scope)s = 'commune' AND d.commune_code = %(value)s)
           OR (%(scope)s = 'tenant' AND d.tenant_id = %(value)s))
      AND (%(tenant)s::text IS NULL OR d.tenant_id = %(tenant)s)
    ORDER BY d.id"""
_MINUTES = """SELECT bucket, mean FROM telemetry_1m
    WHERE device_key = %s AND metric_id = (SELECT id FROM metrics WHERE kind = %s AND name = %s)
      AND bucket >= %s AND bucket < %s ORDER BY bucket"""


class PreviewAlert(BaseModel):
    device_id: str
    time: datetime
    severity: str
    value: float | None
    reason: str


class Preview(BaseModel):
    days: int
    alerts: int
    by_severity: dict[str, int]
    devices: int
    sample: list[PreviewAlert]


def preview_rule(
    conn: Connection, spec: RuleSpec, *, tenant: str | None = None, now: datetime | None = None
) -> Preview:
    """``devices``: how many devices would have had at least one alert. With ``tenant`` only
    that tenant's devices are replayed (a tenant-bound caller)."""
    until = now or datetime.now(UTC)
    since = until - timedelta(days=DAYS)
    rule = RuleOut.model_validate(
        {**spec.model_dump(), "id": 0, "version": 0, "created_at": until, "updated_at": until}
    )
    counts: Counter[str] = Counter()
    alerted: set[str] = set()
    sample: list[PreviewAlert] = []
    scope = rule.scope_type.value if rule.scope_type is not ScopeType.KIND else "kind"
    with conn.cursor(row_factory=tuple_row) as cur:
        devices = cur.execute(
            _DEVICES,
            {"kind": rule.kind, "scope": scope, "value": rule.scope_value, "tenant": tenant},
        ).fetchall()
        for key, device_id, tenant_id, commune in devices:
            detector = ThresholdDetector([rule])
            live = False
            rows = cur.execute(_MINUTES, (key, rule.kind, rule.metric, since, until)).fetchall()
            for bucket, mean in rows:
                reading = Reading(device_id, tenant_id, rule.kind, commune, rule.metric,
                                  bucket, mean)  # fmt: skip
                findings = detector.observe(reading)
                if rows and bucket == rows[-1][0]:
                    findings += detector.tick(bucket + HOUR * 2)
                for f in findings:
                    if f.active and not live:
                        counts[f.severity] += 1
                        alerted.add(device_id)
                        if len(sample) < SAMPLE:
                            sample.append(PreviewAlert(device_id=device_id, time=f.time,
                                                       severity=f.severity, value=f.value,
                                                       reason=f.reason))  # fmt: skip
                    live = f.active
    return Preview(days=DAYS, alerts=sum(counts.values()), by_severity=dict(counts),
                   devices=len(alerted), sample=sample)  # fmt: skip
