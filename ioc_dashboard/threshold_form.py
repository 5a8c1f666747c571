"""The threshold editor's logic: form values to API bodies, API problems back to fields.

The API validates (``RuleSpec`` in ``analytics.thresholds``); the wall does not repeat those
rules, it only puts each ``errors[].path`` of the 422 problem next to the field it names, so
the editor and the API can never disagree about what is valid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ioc_dashboard.api_models import ThresholdRule

SEVERITIES: Final = ("advisory", "warning", "critical")
# Form fields, in page order; each has an input ``th-<field>`` and an error line ``th-err-<field>``.
FIELDS: Final = ("name", "advisory", "warning", "critical", "clear_level", "min_duration_s",
                 "window", "enabled", "reason")  # fmt: skip
# Fields of the rule the preview and POST /thresholds take (RuleCreate without "reason").
_SPEC_FIELDS: Final = ("name", "kind", "metric", "scope_type", "scope_value", "comparison",
                       "levels", "clear_level", "min_duration_s", "window", "active_hours",
                       "enabled")  # fmt: skip


def rule_options(rules: Sequence[ThresholdRule]) -> list[dict[str, Any]]:
    return [{"label": f"#{r.id} {r.name} ({r.kind}/{r.metric})", "value": r.id} for r in rules]


def numeric_levels(rule: ThresholdRule) -> bool:
    """Band rules (``outside``) have {low, high} levels the simple form does not edit."""
    return all(isinstance(v, int | float) for v in rule.levels.values())


def form_values(rule: ThresholdRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        **{s: rule.levels.get(s) for s in SEVERITIES},
        "clear_level": rule.clear_level if not isinstance(rule.clear_level, dict) else None,
        "min_duration_s": rule.min_duration_s,
        "window": rule.window,
        "enabled": rule.enabled,
        "reason": "",
    }


def _number(value: Any) -> float | int | None:
    if value in (None, ""):
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def patch_from_form(rule: ThresholdRule, values: Mapping[str, Any]) -> dict[str, Any]:
    """``PATCH /thresholds/{id}`` body: the edited fields and the reason. An empty level box
    drops that severity; the API says if the rest no longer makes a rule."""
    patch: dict[str, Any] = {"reason": values.get("reason") or ""}
    if values.get("name") not in (None, rule.name):
        patch["name"] = values["name"]
    if numeric_levels(rule):
        levels = {s: _number(values.get(s)) for s in SEVERITIES}
        patch["levels"] = {s: v for s, v in levels.items() if v is not None}
        patch["clear_level"] = _number(values.get("clear_level"))
    duration = _number(values.get("min_duration_s"))
    patch["min_duration_s"] = int(duration) if duration is not None else 0
    if values.get("window"):
        patch["window"] = values["window"]
    patch["enabled"] = bool(values.get("enabled"))
    return patch


def preview_body(rule: ThresholdRule, patch: Mapping[str, Any]) -> dict[str, Any]:
    """The whole rule as ``POST /thresholds`` takes it (contract C4's preview body)."""
    body = {f: getattr(rule, f) for f in _SPEC_FIELDS}
    body.update({k: v for k, v in patch.items() if k in _SPEC_FIELDS})
    body["reason"] = patch.get("reason") or "preview"
    return body


def field_errors(errors: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """Problem paths (``body.levels.warning``, ``body.clear_level``) to form fields; what no
    field matches goes under ``name`` so it is never hidden."""
    found: dict[str, list[str]] = {}
    for error in errors:
        parts = [p for p in str(error.get("path", "")).split(".") if p not in ("body", "")]
        field = "name"
        message = str(error.get("message", ""))
        if parts[:1] == ["levels"]:
            # "levels" alone: the message names the severity at fault first ("critical must
            # be above warning"), so that is the box the error goes under.
            mentioned = sorted((message.find(s), s) for s in SEVERITIES if s in message)
            if len(parts) > 1 and parts[1] in SEVERITIES:
                field = parts[1]
            else:
                field = mentioned[0][1] if mentioned else "warning"
        elif parts and parts[0] in FIELDS:
            field = parts[0]
        found.setdefault(field, []).append(message)
    return {field: "; ".join(messages) for field, messages in found.items()}
