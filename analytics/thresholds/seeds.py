"""Default rules: QCVN 05:2023/BTNMT ambient limits and each flood gauge's own levels.

Seeds only insert what is missing (keyed by ``seed_key``); a seeded rule that staff have since
edited or disabled is never touched again, so re-running ``ioc db migrate`` is harmless.
"""

from __future__ import annotations

import logging

from psycopg import Connection
from psycopg.rows import tuple_row
from pydantic import ValidationError

from analytics.thresholds.models import Comparison, RuleSpec, ScopeType, Severity, Window
from analytics.thresholds.service import create_rule

log = logging.getLogger(__name__)

QCVN_SEED = "seed:qcvn-05-2023"
GAUGE_SEED = "seed:gauge-levels"
AQ_KIND = "air_quality_station"
GAUGE_KIND = "water_level_gauge"

# QCVN 05:2023/BTNMT limits, µg/Nm³, per averaging period (the annual limits need a window
# the engine does not evaluate; TSP is not measured by our stations). PM2.5 24 h is the 45
# in force from 1 Jan 2026.
QCVN_05_2023: dict[str, dict[Window, float]] = {
    "so2": {Window.MEAN_1H: 350, Window.MEAN_24H: 125},
    "co": {Window.MEAN_1H: 30_000, Window.RUNNING_MEAN_8H: 10_000},
    "no2": {Window.MEAN_1H: 200, Window.MEAN_24H: 100},
    "o3": {Window.MEAN_1H: 200, Window.RUNNING_MEAN_8H: 120},
    "pm10": {Window.MEAN_24H: 100},
    "pm25": {Window.MEAN_24H: 45},
}
# Warning at the legal limit (an exceedance to report); critical at twice it, where a
# sustained episode calls for action beyond reporting. No advisory: the wall's AQI colours
# already show the approach to a limit.
CRITICAL_FACTOR = 2.0
# Hysteresis: an exceedance clears once the mean is back 10 % under the limit, so a mean
# hovering at the limit does not raise and clear an alert every hour.
CLEAR_FACTOR = 0.9


def qcvn_rules() -> dict[str, RuleSpec]:
    """seed_key -> rule, one per (pollutant, averaging period) of the table."""
    rules = {}
    for metric, limits in QCVN_05_2023.items():
        for window, limit in limits.items():
            rules[f"qcvn-05-2023:{metric}:{window}"] = RuleSpec(
                name=f"QCVN 05:2023 {metric.upper()} {window}",
                kind=AQ_KIND,
                metric=metric,
                scope_type=ScopeType.KIND,
                comparison=Comparison.ABOVE,
                levels={Severity.WARNING: limit, Severity.CRITICAL: limit * CRITICAL_FACTOR},
                clear_level=limit * CLEAR_FACTOR,
                window=window,
            )
    return rules


def seed_qcvn_rules(conn: Connection) -> int:
    """Insert the QCVN 05:2023 rules that are missing; returns how many were added."""
    added = 0
    for key, spec in qcvn_rules().items():
        created = create_rule(
            conn, spec, changed_by=QCVN_SEED, seed_key=key,
            reason="Default from QCVN 05:2023/BTNMT (warning at the limit, critical at 2x)",
        )  # fmt: skip
        added += created is not None
    return added


def gauge_rule(device_id: str, levels: dict[str, float | None]) -> RuleSpec:
    """The rule of one gauge: alert level -> warning, danger level -> critical (raises
    ValidationError if the gauge has neither, or its alert level is not below its danger)."""
    by_severity = {
        severity: levels[key]
        for severity, key in (
            (Severity.WARNING, "alert_level"),
            (Severity.CRITICAL, "danger_level"),
        )
        if levels.get(key) is not None
    }
    return RuleSpec(
        name=f"Flood levels of {device_id}",
        kind=GAUGE_KIND,
        metric="water_level",
        scope_type=ScopeType.DEVICE,
        scope_value=device_id,
        comparison=Comparison.ABOVE,
        levels=by_severity,
        window=Window.INSTANT,
    )


def seed_gauge_rules(conn: Connection) -> int:
    """A rule for every registered gauge with an alert or danger level and no seeded rule yet;
    the registry calls this after it registers gauges. Returns how many were added."""
    with conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(
            """SELECT id, attributes -> 'levels' FROM devices
           WHERE kind = %s AND retired_at IS NULL
             AND (attributes -> 'levels' ->> 'alert_level' IS NOT NULL
                  OR attributes -> 'levels' ->> 'danger_level' IS NOT NULL)
           ORDER BY id""",
            (GAUGE_KIND,),
        ).fetchall()
    added = 0
    for device_id, levels in rows:
        try:
            spec = gauge_rule(device_id, levels)
        except ValidationError as exc:
            log.warning("gauge %s: levels not seeded as a rule: %s", device_id, exc)
            continue
        created = create_rule(
            conn, spec, changed_by=GAUGE_SEED, seed_key=f"gauge:{device_id}",
            reason="Default from the gauge's registered alert and danger levels",
        )  # fmt: skip
        added += created is not None
    return added


def seed_defaults(conn: Connection) -> None:
    """The ``ioc.post_migrate`` hook."""
    qcvn = seed_qcvn_rules(conn)
    gauges = seed_gauge_rules(conn)
    if qcvn or gauges:
        log.info("threshold seeds: %d QCVN rules, %d gauge rules added", qcvn, gauges)
