"""Threshold rules: what a valid rule is, how changes are versioned, what the seeds add."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from analytics.thresholds import (
    RulePatch,
    RuleSpec,
    RuleValidationError,
    create_rule,
    disable_rule,
    list_rules,
    rule_versions,
    seed_defaults,
    seed_gauge_rules,
    update_rule,
)
from analytics.thresholds.seeds import QCVN_05_2023, QCVN_SEED, qcvn_rules
from devices.registry import DeviceIn, ensure_tenant, upsert_device
from devices.registry_models import SiteLevels

PM25 = {
    "name": "PM2.5 daily", "kind": "air_quality_station", "metric": "pm25",
    "scope_type": "kind", "comparison": "above", "window": "24h_mean",
    "levels": {"warning": 45, "critical": 90}, "clear_level": 40,
}  # fmt: skip


def spec(**changes):
    return RuleSpec.model_validate({**PM25, **changes})


def error_fields(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in exc.value.errors()}


# --- the model ---------------------------------------------------------------------------


def test_a_valid_rule_and_its_kind_scope():
    rule = spec()
    assert rule.scope_value == "air_quality_station"
    assert rule.window == "24h_mean"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"levels": {"warning": 90, "critical": 45}}, "levels"),  # critical milder than warning
        ({"comparison": "below"}, "levels"),  # below: critical must be lower
        ({"clear_level": 50}, "clear_level"),  # clear above the warning level
        ({"clear_level": 45}, "clear_level"),  # no hysteresis is null, not equal
        ({"levels": {}}, "levels"),
        ({"metric": "water_level"}, "metric"),  # not a metric of air-quality stations
        ({"kind": "spaceship"}, "kind"),
        ({"window": "2h_mean"}, "window"),
        ({"levels": {"warning": 45, "severe": 90}}, "levels.severe.[key]"),
        ({"scope_type": "all", "scope_value": "x"}, "scope_value"),
        ({"scope_type": "device"}, "scope_value"),
        ({"min_duration_s": -1}, "min_duration_s"),
        ({"active_hours": [{"start": "06:00", "end": "06:00"}]}, "active_hours.0"),
        ({"colour": "red"}, "colour"),  # unknown keys are typos
        ({"comparison": "outside"}, "levels"),  # outside needs bands
    ],
)
def test_inconsistent_rules_are_refused_naming_the_field(changes, field):
    with pytest.raises(ValidationError) as exc:
        spec(**changes)
    assert field in error_fields(exc)


def test_below_and_band_orderings():
    low_water = spec(metric="pm10", comparison="below", levels={"warning": 20, "critical": 10},
                     clear_level=25)  # fmt: skip
    assert low_water.levels["critical"] == 10
    band = spec(comparison="outside", clear_level={"low": 12, "high": 38},
                levels={"advisory": {"low": 10, "high": 40},
                        "critical": {"low": 0, "high": 60}})  # fmt: skip
    assert list(band.levels) == ["advisory", "critical"]
    with pytest.raises(ValidationError) as exc:  # critical band inside the advisory band
        spec(comparison="outside", levels={"advisory": {"low": 0, "high": 60},
                                           "critical": {"low": 10, "high": 40}})  # fmt: skip
    assert "levels" in error_fields(exc)
    with pytest.raises(ValidationError):  # rates are magnitudes
        spec(comparison="rate_of_change", levels={"warning": -5}, clear_level=None)


def test_active_hours_are_local_time_and_may_cross_midnight():
    night = spec(active_hours=[{"start": "22:00", "end": "06:00"}])
    assert night.is_active_at(datetime(2026, 1, 1, 16, 0, tzinfo=UTC))  # 23:00 in Hai Phong
    assert not night.is_active_at(datetime(2026, 1, 1, 5, 0, tzinfo=UTC))  # 12:00 local
    assert spec().is_active_at(datetime(2026, 1, 1, 5, 0, tzinfo=UTC))
    assert not spec(enabled=False).is_active_at(datetime(2026, 1, 1, 5, 0, tzinfo=UTC))


def test_qcvn_defaults_warn_at_the_limit_and_cover_every_averaging_period():
    rules = qcvn_rules()
    assert len(rules) == sum(len(limits) for limits in QCVN_05_2023.values())
    pm25 = rules["qcvn-05-2023:pm25:24h_mean"]
    assert pm25.levels == {"warning": 45, "critical": 90}
    assert pm25.clear_level == pytest.approx(40.5)
    assert rules["qcvn-05-2023:o3:8h_running_mean"].levels["warning"] == 120


# --- versioning and seeds (database) -----------------------------------------------------


def test_every_change_is_a_version_with_who_when_and_why(conn):
    rule = create_rule(conn, spec(scope_type="all"), changed_by="lan", reason="new station")
    assert rule is not None and rule.version == 1
    _, after = update_rule(conn, rule.id, RulePatch(reason="too noisy", min_duration_s=3600),
                           changed_by="minh")  # fmt: skip
    assert after.version == 2 and after.min_duration_s == 3600
    _, same = update_rule(conn, rule.id, RulePatch(reason="no-op", min_duration_s=3600),
                          changed_by="minh")  # fmt: skip
    assert same.version == 2  # nothing changed, nothing written
    _, off = disable_rule(conn, rule.id, changed_by="lan", reason="station moved")
    assert not off.enabled and off.version == 3
    versions = rule_versions(conn, rule.id)
    assert [(v.version, v.change, v.changed_by, v.reason) for v in versions] == [
        (1, "create", "lan", "new station"),
        (2, "update", "minh", "too noisy"),
        (3, "disable", "lan", "station moved"),
    ]
    assert versions[0].rule.min_duration_s == 0 and versions[1].rule.min_duration_s == 3600
    assert versions[0].changed_at <= versions[2].changed_at


def test_an_update_is_validated_whole(conn):
    rule = create_rule(conn, spec(), changed_by="lan", reason="r1")
    assert rule is not None
    with pytest.raises(RuleValidationError) as exc:
        update_rule(conn, rule.id, RulePatch(reason="oops", levels={"warning": 90,
                    "critical": 45}), changed_by="lan")  # fmt: skip
    assert exc.value.problems[0][0] == "levels"
    with pytest.raises(RuleValidationError) as exc:
        update_rule(conn, rule.id, RulePatch(reason="oops", clear_level=99), changed_by="lan")
    assert exc.value.problems[0][0] == "clear_level"
    with pytest.raises(RuleValidationError) as exc:
        update_rule(conn, rule.id, RulePatch(reason="oops", scope_type="device"),
                    changed_by="lan")  # fmt: skip
    assert exc.value.problems[0][0] == "scope_value"


def test_qcvn_seeds_are_in_place_and_reseeding_keeps_staff_edits(conn):
    seeded = list_rules(conn, kind="air_quality_station")
    assert len(seeded) == len(qcvn_rules())  # the migrations ran the hook
    pm25 = next(r for r in seeded if r.metric == "pm25")
    assert rule_versions(conn, pm25.id)[0].changed_by == QCVN_SEED
    update_rule(conn, pm25.id, RulePatch(reason="city target", levels={"warning": 40,
                "critical": 80}, clear_level=35), changed_by="lan")  # fmt: skip
    o3 = next(r for r in seeded if r.metric == "o3")
    disable_rule(conn, o3.id, changed_by="lan", reason="analyser out")
    seed_defaults(conn)
    seed_defaults(conn)
    again = list_rules(conn, kind="air_quality_station")
    assert len(again) == len(seeded)
    assert next(r for r in again if r.id == pm25.id).levels["warning"] == 40
    assert not next(r for r in again if r.id == o3.id).enabled


def test_gauge_rules_come_from_each_gauges_levels(conn):
    ensure_tenant(conn, "sonnmt", "Sở Nông nghiệp và Môi trường")
    for device_id, levels in (
        ("wl-cam", SiteLevels(reference_level=100, alert_level=250, danger_level=320)),
        ("wl-bad", SiteLevels(alert_level=300, danger_level=200)),  # inverted: skipped
        ("wl-none", None),
    ):
        upsert_device(conn, DeviceIn(id=device_id, kind="water_level_gauge", tenant_id="sonnmt",
                                     lat=20.86, lon=106.68, levels=levels))  # fmt: skip
    assert seed_gauge_rules(conn) == 1
    assert seed_gauge_rules(conn) == 0
    (rule,) = list_rules(conn, kind="water_level_gauge")
    assert (rule.scope_type, rule.scope_value, rule.metric) == ("device", "wl-cam", "water_level")
    assert rule.levels == {"warning": 250, "critical": 320}
    assert rule.seed_key == "gauge:wl-cam"
