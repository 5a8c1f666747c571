"""The threshold editor's translation between form, API bodies and API problems."""

from __future__ import annotations

from ioc_dashboard import threshold_form as form
from ioc_dashboard.api_models import ThresholdRule

RULE = ThresholdRule.model_validate({
    "id": 7, "version": 3, "name": "PM2.5 1h", "kind": "air_quality_station", "metric": "pm25",
    "scope_type": "all", "comparison": "above", "levels": {"warning": 50, "critical": 90},
    "clear_level": 40.5, "min_duration_s": 300, "window": "1h_mean", "enabled": True,
})  # fmt: skip


def test_form_round_trip_to_a_patch() -> None:
    values = form.form_values(RULE)
    assert values["warning"] == 50 and values["advisory"] is None and values["reason"] == ""
    values.update(warning="55", advisory="", reason="port complaints", enabled=False)
    patch = form.patch_from_form(RULE, values)
    assert patch == {"reason": "port complaints", "levels": {"warning": 55, "critical": 90},
                     "clear_level": 40.5, "min_duration_s": 300, "window": "1h_mean",
                     "enabled": False}  # fmt: skip


def test_preview_body_is_the_whole_rule_with_the_edit() -> None:
    body = form.preview_body(RULE, {"reason": "why", "levels": {"warning": 60}})
    assert body["levels"] == {"warning": 60} and body["metric"] == "pm25"
    assert body["reason"] == "why" and "id" not in body and "version" not in body


def test_band_rules_keep_their_levels() -> None:
    band = RULE.model_copy(update={"comparison": "outside",
                                   "levels": {"warning": {"low": 1, "high": 9}}})  # fmt: skip
    assert not form.numeric_levels(band)
    assert "levels" not in form.patch_from_form(band, {"reason": "r", "enabled": True})


def test_api_problems_go_next_to_their_fields() -> None:
    errors = form.field_errors([
        {"path": "body.levels", "message": "Value error, critical must be above warning"},
        {"path": "body.clear_level", "message": "must be below levels.warning"},
        {"path": "body.reason", "message": "too short"},
        {"path": "body.scope_value", "message": "required"},
    ])  # fmt: skip
    assert errors == {"critical": "Value error, critical must be above warning",
                      "clear_level": "must be below levels.warning", "reason": "too short",
                      "name": "required"}  # fmt: skip
