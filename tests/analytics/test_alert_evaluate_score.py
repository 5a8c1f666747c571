"""The C3 matching rule: detection windows with grace, false positives, per-type figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from analytics.evaluate_score import RaisedAlert, RuleScope, averaging_windows, score

T = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


def iso(minutes: float) -> str:
    return (T + timedelta(minutes=minutes)).isoformat()


INCIDENTS = [
    {"id": "inc-1", "type": "flatline", "device_ids": ["aq-1"], "metric": "pm25",
     "start": iso(0), "end": iso(60), "expect_kinds": ["quality_flatline"]},
    {"id": "inc-2", "type": "flatline", "device_ids": ["aq-2"], "metric": "pm25",
     "start": iso(0), "end": iso(60), "expect_kinds": ["quality_flatline"]},
    {"id": "inc-3", "type": "typhoon", "device_ids": ["wl-1", "wl-2"], "metric": "water_level",
     "start": iso(100), "end": iso(200), "expect_kinds": ["threshold"]},
]  # fmt: skip


def alert(i: int, kind: str, device: str, minutes: float) -> RaisedAlert:
    return RaisedAlert(i, kind, device, T + timedelta(minutes=minutes))


def test_matching_window_grace_and_false_positives():
    alerts = [
        alert(1, "quality_flatline", "aq-1", 30),
        alert(2, "quality_flatline", "aq-2", 60 + 9),  # within end + 3 x 180 s grace
        alert(3, "threshold", "wl-2", 130),
        alert(4, "threshold", "wl-1", 150),  # a second device of the same incident: matched
        alert(5, "threshold", "aq-1", 10),  # no incident: false positive
        alert(6, "quality_flatline", "aq-1", -5),  # before the start: false positive
    ]
    got = score(INCIDENTS, alerts, {"aq-2": 180})
    assert (got["recall"], got["precision"], got["false_positives"]) == (1.0, 0.6667, 2)
    assert got["by_type"]["flatline"] == {
        "incidents": 2,
        "detected": 2,
        "recall": 1.0,
        "precision": 0.6667,
        "median_delay_s": 2970.0,
    }
    assert got["by_type"]["typhoon"]["median_delay_s"] == 1800.0
    assert got["by_type"]["typhoon"]["precision"] == 0.6667
    assert got["missed_incidents"] == []
    assert [(a["kind"], a["device_id"]) for a in got["false_positive_alerts"]] == [
        ("threshold", "aq-1"), ("quality_flatline", "aq-1")]  # fmt: skip


def test_late_alert_beyond_grace_is_a_miss_and_a_false_positive():
    got = score(INCIDENTS[:1], [alert(1, "quality_flatline", "aq-1", 60 + 6)], {})
    assert (got["recall"], got["precision"]) == (0.0, 0.0)
    assert got["missed_incidents"] == ["inc-1"]
    assert score(INCIDENTS[:1], [], {})["recall"] == 0.0


def test_averaging_windows_take_the_longest_rule_that_applies():
    rules = [
        RuleScope("air_quality_station", "kind", "air_quality_station", "1h_mean"),
        RuleScope("air_quality_station", "commune", "31117", "24h_mean"),
        RuleScope("air_quality_station", "device", "aq-9", "8h_running_mean"),
        RuleScope("air_quality_station", "all", None, "instant"),
        RuleScope("weather_station", "all", None, "24h_mean"),  # another kind
    ]
    devices = [("aq-1", "air_quality_station", "t", "31117"),
               ("aq-2", "air_quality_station", "t", "11311"),
               ("aq-9", "air_quality_station", "t", None),
               ("wl-1", "water_level_gauge", "t", "31117")]  # fmt: skip
    assert averaging_windows(rules, devices) == {"aq-1": 86400.0, "aq-2": 3600.0,
                                                 "aq-9": 8 * 3600.0}  # fmt: skip


def test_window_grace_extends_only_pollution_and_typhoon():
    incidents = [
        {"id": "p", "type": "pollution_episode", "device_ids": ["aq-1"], "metric": "pm25",
         "start": iso(0), "end": iso(60), "expect_kinds": ["threshold"]},
        {"id": "f", "type": "flatline", "device_ids": ["aq-2"], "metric": "pm25",
         "start": iso(0), "end": iso(60), "expect_kinds": ["quality_flatline"]},
    ]  # fmt: skip
    late = [alert(1, "threshold", "aq-1", 60 + 50),  # 50 min after the end: inside 1 h
            alert(2, "quality_flatline", "aq-2", 60 + 50)]  # fmt: skip
    windows = {"aq-1": 3600.0, "aq-2": 3600.0}
    got = score(incidents, late, {}, windows)
    assert got["missed_incidents"] == ["f"]
    assert got["by_type"]["pollution_episode"]["detected"] == 1
    # Without the windows, the plain grace: the episode's late alert is a miss too.
    assert score(incidents, late, {})["missed_incidents"] == ["p", "f"]
    # Beyond the window plus the plain grace: still a miss.
    too_late = [alert(1, "threshold", "aq-1", 60 + 60 + 6)]
    assert score(incidents[:1], too_late, {}, windows)["missed_incidents"] == ["p"]
