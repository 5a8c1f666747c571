"""Early warnings: a forecast exceedance becomes an alert of kind ``forecast`` (C4/C5).

Raised through the alert engine's ``apply_findings`` like any detector's finding, one live
alert per (device, target); labelled ``forecast=true`` so the wall and operators never mistake
a prediction for a measurement. The median decides (the forecast says it will more likely than
not exceed); an exceedance of the p90 alone is an advisory (a real but smaller chance). When
neither does, the finding is inactive and resolves the earlier warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from psycopg import Connection

from analytics.alerts import Finding, apply_findings
from analytics.forecast.store import ForecastRow

__all__ = ["EarlyWarning", "aqi_warnings", "raise_warnings"]

EarlyWarning = Finding
CRITICAL_AQI = 200  # above it the VN_AQI band is "very bad" (rất xấu)


def aqi_warnings(
    device_id: str, rows: Sequence[ForecastRow], *, threshold: int, within: timedelta
) -> list[Finding]:
    """At most one finding: the first forecast hour within ``within`` whose AQI exceeds."""
    if not rows:
        return []
    issued = rows[0][0]
    soon = [r for r in rows if r[3] < issued + within]
    hours = within.total_seconds() / 3600
    labels = {"forecast": "true", "model_version": rows[0][10], "issued_at": issued.isoformat()}
    for row in soon:
        _, _, _, target, horizon, _, p50, p90, *_ = row
        if p50 > threshold or p90 > threshold:
            likely = p50 > threshold
            severity = ("critical" if p50 > CRITICAL_AQI else "warning") if likely else "advisory"
            value = p50 if likely else p90
            return [Finding(
                kind="forecast", device_id=device_id, key="aqi", active=True,
                severity=severity, time=issued,
                title=f"AQI forecast above {threshold} within {hours:g} h at {device_id}",
                reason=(f"forecast VN_AQI {p50:.0f} (p10-p90 up to {p90:.0f}) for the hour from "
                        f"{target.isoformat()}, {horizon:g} h ahead; "
                        + ("likely" if likely else "possible (p90 only)")),
                metric="aqi", value=float(value), threshold=float(threshold),
                labels={**labels, "target_time": target.isoformat()},
            )]  # fmt: skip
    return [Finding(
        kind="forecast", device_id=device_id, key="aqi", active=False, severity="advisory",
        time=issued, title=f"AQI forecast back under {threshold} at {device_id}",
        reason=f"no forecast hour within {hours:g} h exceeds AQI {threshold}",
        metric="aqi", threshold=float(threshold), labels=labels,
    )]  # fmt: skip


def raise_warnings(conn: Connection, findings: list[Finding]) -> int:
    """Apply the findings; returns how many alerts changed (opened, re-graded, resolved)."""
    return len(apply_findings(conn, findings, source="forecast")) if findings else 0
