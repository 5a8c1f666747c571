"""Scoring raised alerts against a scenario's ground truth (contract C3's matching rule).

An incident is detected when an alert of one of its ``expect_kinds`` opens for one of its
devices with event time in ``[start, end + grace]``, grace = max(300 s, 3 reporting intervals of
the device's kind); an alert matching no incident is a false positive. Detection delay = the
first matching alert's event time − the incident's start. Per type, precision counts the alerts
matched to incidents of that type against those plus the false positives of the kinds that type
expects (a false ``threshold`` alert counts against every type expecting ``threshold``).

Averaging-window rules (1 h, 8 h running, 24 h means, QCVN 05:2023) judge the past hours, so
a threshold alert on one legitimately opens, or opens late, after a pollution episode or a
typhoon has ended: for those incident types the grace is extended by the longest averaging
window of the enabled rules that apply to the device (``windows``, see
:func:`averaging_windows`). Every other type keeps the plain C3 grace.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any

__all__ = ["WINDOWED_TYPES", "RaisedAlert", "RuleScope", "averaging_windows", "grace_for", "score"]

MIN_GRACE = timedelta(seconds=300)
MAX_LISTED = 100
# Incident types raised by threshold rules, some of which average over hours.
WINDOWED_TYPES = frozenset({"pollution_episode", "typhoon"})
# Seconds of history each rule window (analytics.thresholds.Window's values) averages over.
WINDOW_S = {"instant": 0.0, "1h_mean": 3600.0, "8h_running_mean": 8 * 3600.0,
            "24h_mean": 24 * 3600.0}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    id: int
    kind: str
    device_id: str | None
    time: datetime  # event time it opened at


@dataclass(frozen=True, slots=True)
class RuleScope:
    """What decides whether an enabled threshold rule can judge a device, and its window."""

    kind: str
    scope_type: str  # device | kind | commune | tenant | all
    scope_value: str | None
    window: str


@dataclass(frozen=True, slots=True)
class _Device:
    id: str
    kind: str
    tenant_id: str | None
    commune_code: str | None


def _applies(rule: RuleScope, d: _Device) -> bool:
    if rule.kind != d.kind:
        return False
    if rule.scope_type == "device":
        return rule.scope_value == d.id
    if rule.scope_type == "commune":
        return rule.scope_value == d.commune_code
    if rule.scope_type == "tenant":
        return rule.scope_value == d.tenant_id
    return True  # kind, all


def averaging_windows(
    rules: Iterable[RuleScope], devices: Iterable[tuple[str, str, str | None, str | None]]
) -> dict[str, float]:
    """Device id -> seconds of the longest averaging window among the rules that apply to it
    (devices as ``(id, kind, tenant_id, commune_code)``); devices with none are left out."""
    rules = [r for r in rules if WINDOW_S.get(r.window, 0.0) > 0]
    out: dict[str, float] = {}
    for row in devices:
        d = _Device(*row)
        longest = max((WINDOW_S[r.window] for r in rules if _applies(r, d)), default=0.0)
        if longest:
            out[d.id] = longest
    return out


def grace_for(interval_s: float | None) -> timedelta:
    if interval_s is None:
        return MIN_GRACE
    return max(MIN_GRACE, timedelta(seconds=3 * interval_s))


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def score(
    incidents: Iterable[Mapping[str, Any]], alerts: Iterable[RaisedAlert],
    intervals: Mapping[str, float], windows: Mapping[str, float] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """``incidents``: the truth file's list; ``intervals``: device id -> its kind's shortest
    reporting interval in seconds (for the grace); ``windows``: device id -> longest averaging
    window in seconds of the rules that apply to it (extends the grace of
    :data:`WINDOWED_TYPES` only)."""
    windows = windows or {}
    alerts = list(alerts)
    by_device: dict[str | None, list[RaisedAlert]] = defaultdict(list)
    for a in alerts:
        by_device[a.device_id].append(a)
    matched: dict[int, str] = {}  # alert id -> incident type it matched
    missed: list[str] = []
    per_type: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"incidents": 0, "detected": 0, "delays": [], "kinds": set()}
    )
    for inc in incidents:
        kind_set = set(inc["expect_kinds"])
        start = datetime.fromisoformat(inc["start"])
        end = datetime.fromisoformat(inc["end"])
        t = per_type[inc["type"]]
        t["incidents"] += 1
        t["kinds"] |= kind_set
        first: datetime | None = None
        windowed = inc["type"] in WINDOWED_TYPES
        for device_id in inc["device_ids"]:
            limit = end + grace_for(intervals.get(device_id))
            if windowed:
                limit += timedelta(seconds=windows.get(device_id, 0.0))
            for a in by_device.get(device_id, ()):
                if a.kind in kind_set and start <= a.time <= limit:
                    matched.setdefault(a.id, inc["type"])
                    first = a.time if first is None else min(first, a.time)
        if first is not None:
            t["detected"] += 1
            t["delays"].append((first - start).total_seconds())
        else:
            missed.append(inc["id"])
    false_positives = [a for a in alerts if a.id not in matched]
    fp_by_kind: dict[str, int] = defaultdict(int)
    for a in false_positives:
        fp_by_kind[a.kind] += 1
    matched_by_type: dict[str, int] = defaultdict(int)
    for type_ in matched.values():
        matched_by_type[type_] += 1
    by_type = {}
    for type_, t in sorted(per_type.items()):
        fp = sum(fp_by_kind[k] for k in t["kinds"])
        by_type[type_] = {
            "incidents": t["incidents"], "detected": t["detected"],
            "recall": _ratio(t["detected"], t["incidents"]),
            "precision": _ratio(matched_by_type[type_], matched_by_type[type_] + fp),
            "median_delay_s": round(median(t["delays"]), 1) if t["delays"] else None,
        }  # fmt: skip
    total_incidents = sum(t["incidents"] for t in per_type.values())
    detected = sum(t["detected"] for t in per_type.values())
    return {
        "precision": _ratio(len(matched), len(alerts)) if alerts else (1.0 if not total_incidents
                                                                       else None),
        "recall": _ratio(detected, total_incidents),
        "alerts": len(alerts), "false_positives": len(false_positives),
        "false_positives_by_kind": dict(sorted(fp_by_kind.items())),
        "incidents": total_incidents, "detected": detected, "by_type": by_type,
        # What to look at first when a figure is low.
        "missed_incidents": missed,
        "false_positive_alerts": [
            {"kind": a.kind, "device_id": a.device_id, "time": a.time.isoformat()}
            for a in false_positives[:MAX_LISTED]
        ],
    }  # fmt: skip
