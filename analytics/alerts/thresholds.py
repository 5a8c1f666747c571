"""Threshold rules as a ``Detector``: each reading is judged against the rules whose scope
covers its device, with windows, minimum duration, hysteresis and active hours.

State per (rule, device) is the severity the engine last reported and since when the current
breach has lasted (event time), so a finding is produced only when the verdict changes and
``apply_findings`` is not called per reading. At start the state is taken from the live
threshold alerts in the database and the hourly means from the rollups (:mod:`.warm`), so a
restart neither forgets an alert it must clear nor waits 24 hours to judge a 24 h mean.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from analytics.alerts.model import Finding, Reading
from analytics.alerts.rule_eval import WINDOW_HOURS, breach, describe, held, level_value
from analytics.alerts.windows import HOUR, HourlyMeans
from analytics.thresholds import Comparison, RuleOut, ScopeType, Severity, Window
from devices.profiles import load_profiles

__all__ = ["KIND", "ThresholdDetector", "rule_key"]

KIND = "threshold"


def rule_key(rule_id: int) -> str:
    return f"rule:{rule_id}"


@dataclass(slots=True)
class _State:
    severity: Severity | None = None  # as last reported (None: no live alert)
    breach_since: datetime | None = None
    # Event time of the newest reading judged: with several ingest workers a device's
    # readings can reach the engine out of order, and an older one must not undo a newer.
    judged_at: datetime | None = None


@dataclass(slots=True)
class _Plan:
    """The rules of one (kind, metric), split by how they are evaluated."""

    instant: list[RuleOut] = field(default_factory=list)
    windowed: list[RuleOut] = field(default_factory=list)
    rate: bool = False  # an instant rate-of-change rule needs each series' previous reading


_RANK = {severity: i for i, severity in enumerate(Severity)}
_NOTHING: list[Finding] = []  # shared empty result: never appended to


def _covers(rule: RuleOut, reading: Reading) -> bool:
    scope, value = rule.scope_type, rule.scope_value
    if scope is ScopeType.DEVICE:
        return value == reading.device_id
    if scope is ScopeType.COMMUNE:
        return value == reading.commune_code
    if scope is ScopeType.TENANT:
        return value == reading.tenant_id
    return True  # kind (the rule's kind is matched by the index) and all


class ThresholdDetector:
    def __init__(self, rules: Iterable[RuleOut]) -> None:
        self._plans: dict[tuple[str, str], _Plan] = {}
        self.set_rules(rules)
        self._states: dict[tuple[int, str], _State] = defaultdict(_State)
        self._hourly: dict[tuple[str, str], HourlyMeans] = {}
        self._last: dict[tuple[str, str], tuple[datetime, float]] = {}
        self._context: dict[str, Reading] = {}  # a device's scope facts, for tick()
        profiles = load_profiles().items()
        self._units = {(kind, m.name): m.unit for kind, p in profiles for m in p.metrics}
        self._floors = {(kind, m.name): float(m.min) for kind, p in profiles for m in p.metrics}

    # --- rules --------------------------------------------------------------------------
    def set_rules(self, rules: Iterable[RuleOut]) -> None:
        """Replace the rule set (edited through the API); state of kept rules survives."""
        plans: dict[tuple[str, str], _Plan] = defaultdict(_Plan)
        for rule in rules:
            if rule.enabled:
                plan = plans[(rule.kind, rule.metric)]
                if rule.window is Window.INSTANT:
                    plan.instant.append(rule)
                    plan.rate = plan.rate or rule.comparison is Comparison.RATE_OF_CHANGE
                else:
                    plan.windowed.append(rule)
        self._plans = dict(plans)
        # The declared interest (Detector protocol): the engine re-reads it after a reload.
        self.kinds = frozenset(kind for kind, _ in self._plans)
        self.metrics = frozenset(metric for _, metric in self._plans)

    def rules(self) -> Iterator[RuleOut]:
        for plan in self._plans.values():
            yield from plan.instant
            yield from plan.windowed

    def restore(self, rule_id: int, device_id: str, severity: Severity) -> None:
        """Warm start: a live alert in the database is the state."""
        self._states[(rule_id, device_id)].severity = severity

    def verdict(self, rule_id: int, device_id: str) -> Severity | None:
        """The severity last reported for (rule, device): None when no alert is live."""
        state = self._states.get((rule_id, device_id))
        return None if state is None else state.severity

    def series(self, device_id: str, metric: str) -> HourlyMeans:
        key = (device_id, metric)
        means = self._hourly.get(key)
        if means is None:
            means = self._hourly[key] = HourlyMeans()
        return means

    # --- Detector -----------------------------------------------------------------------
    def observe(self, reading: Reading) -> list[Finding]:
        # The hot path: every reading of every device comes through here, and nearly all of
        # them only add to an hourly sum.
        plan = self._plans.get((reading.kind, reading.metric))
        if plan is None:
            return _NOTHING
        findings: list[Finding] = []
        device_id = reading.device_id
        if device_id not in self._context:
            self._context[device_id] = reading
        if plan.windowed:
            closed = self.series(device_id, reading.metric).add(reading.time, reading.value)
            if closed is not None:
                self._context[device_id] = reading
                for rule in plan.windowed:
                    if _covers(rule, reading):
                        findings += self._judge_window(rule, reading, closed)
        if plan.instant:
            previous = None
            if plan.rate:
                key = (device_id, reading.metric)
                previous = self._last.get(key)
                if previous is None or reading.time > previous[0]:
                    self._last[key] = (reading.time, reading.value)
            for rule in plan.instant:
                if _covers(rule, reading):
                    value = self._instant_value(rule, reading, previous)
                    if value is not None:
                        findings += self._judge(rule, reading, reading.time, value)
        return findings

    def tick(self, watermark: datetime) -> list[Finding]:
        findings: list[Finding] = []
        for (device_id, metric), means in self._hourly.items():
            closed = means.close_if_due(watermark)
            reading = self._context.get(device_id)
            if closed is None or reading is None:
                continue
            plan = self._plans.get((reading.kind, metric))
            for rule in plan.windowed if plan else ():
                if _covers(rule, reading):
                    findings += self._judge_window(rule, reading, closed)
        return findings

    # --- evaluation ---------------------------------------------------------------------
    @staticmethod
    def _instant_value(
        rule: RuleOut, reading: Reading, previous: tuple[datetime, float] | None
    ) -> float | None:
        if rule.comparison is not Comparison.RATE_OF_CHANGE:
            return reading.value
        if previous is None or reading.time <= previous[0]:
            return None
        hours = (reading.time - previous[0]).total_seconds() / 3600
        return abs(reading.value - previous[1]) / hours

    def _judge_window(self, rule: RuleOut, reading: Reading, closed: datetime) -> list[Finding]:
        hours = WINDOW_HOURS[rule.window]
        means = self.series(reading.device_id, rule.metric)
        now = means.mean(hours, closed)
        if now is None:
            return self._judge_bound(rule, reading, closed, hours, means)
        value = now[0]
        if rule.comparison is Comparison.RATE_OF_CHANGE:
            before = means.mean(hours, closed - HOUR)
            if before is None:
                return []
            value = abs(now[0] - before[0])  # per hour: the windows are an hour apart
        return self._judge(rule, reading, closed + HOUR, value)

    def _judge_bound(
        self, rule: RuleOut, reading: Reading, closed: datetime, hours: int, means: HourlyMeans
    ) -> list[Finding]:
        """Too few hours for the mean: an ``above`` rule is still breached when the hours seen
        make the mean exceed a level whatever the others held (windows.py). Never a clear:
        that needs the mean itself."""
        if rule.comparison is not Comparison.ABOVE or hours == 1:
            return []
        floor = self._floors.get((rule.kind, rule.metric), 0.0)
        bound, seen = means.lower_bound(hours, closed, floor)
        severity = breach(rule, bound)
        current = self.verdict(rule.id, reading.device_id)
        if severity is None or (current is not None and _RANK[severity] <= _RANK[current]):
            return []  # a bound only ever raises the verdict
        found = self._judge(rule, reading, closed + HOUR, bound)
        note = (
            f"; at least this from {seen} of {hours} hours (the others at no less than {floor:g})"
        )
        return [replace(f, reason=f.reason + note) for f in found]

    def _judge(
        self, rule: RuleOut, reading: Reading, when: datetime, value: float
    ) -> list[Finding]:
        state = self._states[(rule.id, reading.device_id)]
        if state.judged_at is not None and when < state.judged_at:
            return _NOTHING
        state.judged_at = when
        if not rule.is_active_at(when):
            state.breach_since = None
            if state.severity is None:
                return []
            state.severity = None
            return [self._finding(rule, reading, when, value, None, "outside its active hours")]
        severity = breach(rule, value)
        if severity is None:
            state.breach_since = None
            if state.severity is None or held(rule, value):
                return []
            state.severity = None
            return [self._finding(rule, reading, when, value, None, None)]
        if state.breach_since is None:
            state.breach_since = when
        lasted = when - state.breach_since
        if state.severity is None and lasted < timedelta(seconds=rule.min_duration_s):
            return []
        if severity == state.severity:
            return []
        state.severity = severity
        return [self._finding(rule, reading, when, value, severity, None, lasted)]

    def _finding(
        self, rule: RuleOut, reading: Reading, when: datetime, value: float,
        severity: Severity | None, why: str | None, lasted: timedelta | None = None,
    ) -> Finding:  # fmt: skip
        unit = self._units.get((rule.kind, rule.metric), "")
        reason = why or describe(rule, value, severity, unit)
        if lasted and rule.min_duration_s:
            reason += f"; for {int(lasted.total_seconds())} s (minimum {rule.min_duration_s} s)"
        title = f"{rule.name}: {rule.metric} {value:.4g} {unit}"
        return Finding(
            kind=KIND, device_id=reading.device_id, key=rule_key(rule.id),
            active=severity is not None,
            severity=(severity or next(iter(rule.levels))).value, time=when, title=title,
            reason=reason, metric=rule.metric, value=value,
            threshold=level_value(rule, severity, value) if severity else None,
            rule_id=rule.id, rule_version=rule.version,
            labels={"rule": str(rule.id), "window": rule.window.value},
        )  # fmt: skip
