"""One threshold rule's verdict on one value: which severity, if any, and whether a live alert
is held by hysteresis. Pure functions of the rule, so the engine and ``/thresholds/preview``
cannot disagree about what a rule means."""

from __future__ import annotations

from analytics.thresholds import Band, Comparison, RuleOut, Severity, Window

__all__ = ["WINDOW_HOURS", "breach", "describe", "held", "level_value"]

WINDOW_HOURS = {Window.MEAN_1H: 1, Window.RUNNING_MEAN_8H: 8, Window.MEAN_24H: 24}
_WORDS = {
    Window.INSTANT: "",
    Window.MEAN_1H: " 1 h mean",
    Window.RUNNING_MEAN_8H: " 8 h running mean",
    Window.MEAN_24H: " 24 h mean",
}


def _past(comparison: Comparison, value: float, level: float | Band) -> bool:
    if isinstance(level, Band):
        return value < level.low or value > level.high
    if comparison is Comparison.BELOW:
        return value < level
    return value > level  # above; rate_of_change compares the magnitude


def breach(rule: RuleOut, value: float) -> Severity | None:
    """The most severe level ``value`` is past (levels are ordered mildest first)."""
    worst = None
    for severity, level in rule.levels.items():
        if _past(rule.comparison, value, level):
            worst = severity
    return worst


def held(rule: RuleOut, value: float) -> bool:
    """With no level breached, is a live alert still held, being short of the clear level?"""
    if rule.clear_level is None:
        return False
    return _past(rule.comparison, value, rule.clear_level)


def level_value(rule: RuleOut, severity: Severity, value: float) -> float:
    """The number to show as the threshold: for a band, the bound on the value's side."""
    level = rule.levels[severity]
    if isinstance(level, Band):
        return level.low if value < level.low else level.high
    return level


def describe(rule: RuleOut, value: float, severity: Severity | None, unit: str) -> str:
    what = f"{rule.metric}{_WORDS[rule.window]}"
    if rule.comparison is Comparison.RATE_OF_CHANGE:
        what = f"{what} changing by"
        unit = f"{unit}/h"
    if severity is None:
        clear = rule.clear_level if rule.clear_level is not None else None
        tail = f" (clear level {clear})" if clear is not None else ""
        return f"{what} {value:.4g} {unit} is back within the rule's levels{tail}"
    level = rule.levels[severity]
    if isinstance(level, Band):
        side = f"outside {level.low:g}–{level.high:g}"
    else:
        side = f"{'below' if rule.comparison is Comparison.BELOW else 'above'} {level:g}"
    return f"{what} {value:.4g} {unit} is {side} {unit} ({severity} level of '{rule.name}')"
