"""Threshold rules judged by the engine's detector: levels, hysteresis, minimum duration,
hourly windows, active hours (UTC+7), rate of change and scope. Pure: no services needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from analytics.alerts import Reading
from analytics.alerts.thresholds import ThresholdDetector
from analytics.thresholds import RuleOut

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Hai Phong


def rule(**overrides) -> RuleOut:
    doc = {
        "id": 7, "version": 2, "name": "PM2.5 test", "kind": "air_quality_station",
        "metric": "pm25", "scope_type": "kind", "scope_value": None, "comparison": "above",
        "levels": {"warning": 100, "critical": 200}, "clear_level": 80,
        "created_at": T0, "updated_at": T0, **overrides,
    }  # fmt: skip
    return RuleOut.model_validate(doc)


def reading(value: float, minutes: float = 0, device: str = "aq-001", commune: str = "11407",
            tenant: str = "sonnmt") -> Reading:  # fmt: skip
    return Reading(device, tenant, "air_quality_station", commune, "pm25",
                   T0 + timedelta(minutes=minutes), value)  # fmt: skip


def feed(detector: ThresholdDetector, values: list[tuple[float, float]]) -> list[tuple]:
    out = []
    for minutes, value in values:
        for f in detector.observe(reading(value, minutes)):
            out.append((minutes, f.active, f.severity, f.value, f.threshold))
    return out


def test_levels_escalate_and_hysteresis_holds_until_the_clear_level():
    d = ThresholdDetector([rule()])
    got = feed(d, [(0, 50), (1, 120), (2, 150), (3, 250), (4, 150), (5, 90), (6, 85), (7, 79)])
    assert got == [
        (1, True, "warning", 120, 100),
        (3, True, "critical", 250, 200),
        (4, True, "warning", 150, 100),
        (7, False, "warning", 79, None),  # 90 and 85 are under 100 but above the clear level
    ]


def test_findings_name_rule_version_and_explain_with_numbers():
    (f,) = ThresholdDetector([rule()]).observe(reading(123.4))
    assert (f.kind, f.key, f.rule_id, f.rule_version) == ("threshold", "rule:7", 7, 2)
    assert "123.4 ug/m3 is above 100" in f.reason and "warning" in f.reason
    assert f.time == T0


def test_minimum_duration_counts_event_time():
    d = ThresholdDetector([rule(min_duration_s=300)])
    got = feed(d, [(0, 150), (2, 150), (4, 150), (5, 150), (6, 150)])
    assert got == [(5, True, "warning", 150, 100)]
    d = ThresholdDetector([rule(min_duration_s=300)])
    assert feed(d, [(0, 150), (3, 50), (4, 150), (8, 150)]) == []  # the breach restarted at 4


def test_one_hour_mean_is_judged_when_the_hour_closes():
    d = ThresholdDetector([rule(window="1h_mean", clear_level=None)])
    values = [(m, 150.0 if m < 30 else 60.0) for m in range(0, 60, 5)]  # mean 105
    assert feed(d, values) == []
    got = feed(d, [(61, 10)])
    assert got == [(61, True, "warning", 105, 100)]
    (f,) = d.tick(T0 + timedelta(hours=2, minutes=3))  # the second hour closes on time
    assert (f.active, f.time, f.value) == (False, T0 + timedelta(hours=2), 10)


def test_active_hours_are_hai_phong_time():
    night = rule(active_hours=[{"start": "18:00:00", "end": "06:00:00"}])
    d = ThresholdDetector([night])
    assert d.observe(reading(150)) == []  # 10:00 local
    (f,) = d.observe(reading(150, minutes=11 * 60))  # 21:00 local
    assert f.active
    (f,) = d.observe(reading(150, minutes=21 * 60 + 30))  # 07:30 local: resolved
    assert not f.active and "active hours" in f.reason


def test_rate_of_change_per_hour_and_outside_band():
    d = ThresholdDetector([rule(comparison="rate_of_change", levels={"warning": 60},
                                clear_level=None)])  # fmt: skip
    got = feed(d, [(0, 10), (10, 15), (20, 40)])  # +5 in 10 min = 30/h, then +25 = 150/h
    assert got == [(20, True, "warning", 150, 60)]
    band = rule(comparison="outside", levels={"warning": {"low": 5, "high": 300}},
                clear_level={"low": 10, "high": 250})  # fmt: skip
    got = feed(ThresholdDetector([band]), [(0, 50), (1, 3), (2, 8), (3, 12)])
    assert got == [(1, True, "warning", 3, 5), (3, False, "warning", 12, None)]


def test_scope_limits_which_devices_a_rule_judges():
    d = ThresholdDetector([rule(scope_type="commune", scope_value="11407")])
    assert d.observe(Reading("aq-2", "x", "air_quality_station", "99999", "pm25", T0, 500)) == []
    assert len(d.observe(reading(500))) == 1
    d = ThresholdDetector([rule(scope_type="device", scope_value="aq-9")])
    assert d.observe(reading(500)) == []
    assert ThresholdDetector([rule(enabled=False)]).observe(reading(500)) == []


def test_a_last_will_is_told_from_a_goodbye():
    from analytics.alerts.connectivity import ConnectivityDetector

    d = ConnectivityDetector()
    later = T0 + timedelta(minutes=30)
    assert d.status("aq-001", "online", T0, None, T0) == []
    assert d.status("aq-001", "offline", T0 + timedelta(minutes=5), "maintenance", later) == []
    (f,) = d.status("aq-001", "offline", T0, "connection lost", later)  # stamped at connect
    assert (f.kind, f.active, f.time) == ("connectivity", True, later)
    assert d.status("aq-001", "offline", T0, None, later) == []  # already down
    assert d.observe(reading(5, minutes=20)) == []  # in flight before the disconnection
    (back,) = d.observe(reading(5, minutes=31))
    assert not back.active
    # A will re-armed at a reconnection that never announced itself: told by its reason.
    (f,) = d.status("aq-001", "offline", later, "Connection lost", later)
    assert f.active


def test_a_24h_exceedance_is_certain_before_18_hours_are_seen():
    """No history (a new station, a fresh engine): the mean has no value below 18 of 24 hours,
    but once the hours seen exceed 24 x the level, no missing hours can bring it back."""
    d = ThresholdDetector([rule(window="24h_mean", levels={"warning": 45, "critical": 90},
                                clear_level=40)])  # fmt: skip
    hourly = [20.0] * 4 + [140.0] * 10  # an episode from the fifth hour
    opened = []
    for h, value in enumerate([*hourly, 20.0]):
        for f in d.observe(reading(value, minutes=h * 60 + 1)):
            opened.append((f.time - T0, f.severity, round(f.value, 2)))
            assert "from 12 of 24 hours" in f.reason
    # 4 x 20 + 7 x 140 = 1060 < 1080 = 24 x 45; with the eighth hour of the episode: 1200.
    assert opened == [(timedelta(hours=12), "warning", 50.0)]


def test_a_reading_older_than_the_last_judged_changes_nothing():
    # Two ingest workers share a device's messages: the engine may get them out of order.
    d = ThresholdDetector([rule()])
    got = feed(d, [(1, 150), (3, 50), (2, 160), (4, 60)])
    assert got == [(1, True, "warning", 150, 100), (3, False, "warning", 50, None)]
    d = ThresholdDetector([rule(min_duration_s=300)])
    # The breach began at 0; a late reading from before it must not move its start back.
    assert feed(d, [(10, 150), (2, 150), (14, 150)]) == []
    assert feed(d, [(15, 150)]) == [(15, True, "warning", 150, 100)]


def test_rate_of_change_ignores_a_late_reading():
    d = ThresholdDetector([rule(comparison="rate_of_change", levels={"warning": 100},
                                clear_level=None)])  # fmt: skip
    # 70 -> 75 in 10 min is 30/h; from the late 0 at 50 min it would look like 225/h.
    assert feed(d, [(0, 60), (60, 70), (50, 0), (70, 75)]) == []
