"""Scoring raised alerts against a scenario's ground truth (contract C3's matching rule).

An incident is detected when an alert of one of its ``expect_kinds`` opens for one of its
devices with event time in ``[start, end + grace]``, grace = max(300 s, 3 reporting intervals of
the device's kind); an alert matching no incident is a false positive. Detection delay = the
first matching alert's event time − the incident's start. Per type, precision counts the alerts
matched to incidents of that type against those plus the false positives of the kinds that type
expects (a false ``threshold`` alert counts against every type expecting ``threshold``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any

__all__ = ["RaisedAlert", "grace_for", "score"]

MIN_GRACE = timedelta(seconds=300)
MAX_LISTED = 100


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    id: int
    kind: str
    device_id: str | None
    time: datetime  # event time it opened at


def grace_for(interval_s: float | None) -> timedelta:
    if interval_s is None:
        return MIN_GRACE
    return max(MIN_GRACE, timedelta(seconds=3 * interval_s))


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def score(
    incidents: Iterable[Mapping[str, Any]], alerts: Iterable[RaisedAlert],
    intervals: Mapping[str, float],
) -> dict[str, Any]:  # fmt: skip
    """``incidents``: the truth file's list; ``intervals``: device id -> its kind's shortest
    reporting interval in seconds (for the grace)."""
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
        for device_id in inc["device_ids"]:
            limit = end + grace_for(intervals.get(device_id))
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
