"""Scenario files: the bundled ones load and resolve; bad files fail naming file and key."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from simulators.scenarios import ScenarioError, bundled_scenarios, load_scenario, prepare

BASE = """
name: t
duration: 2h
fleet: {counts: {air_quality_station: 3, street_light: 4, lighting_cabinet: 1}}
"""


def _write(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_bundled_scenarios_are_the_contracts_five_and_resolve():
    assert {"standard", "typhoon", "lighting", "pollution", "traffic"} <= set(bundled_scenarios())
    end = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    for name in bundled_scenarios():
        prepared = prepare(load_scenario(name), seed=1, end=end)
        assert prepared.end == end
        assert prepared.start == end - timedelta(seconds=prepared.scenario.duration_s)
        truth = prepared.truth().as_json()
        assert truth["incidents"], name
        for inc in truth["incidents"]:
            assert inc["device_ids"] and inc["expect_kinds"], (name, inc)


def test_same_seed_same_truth_other_seed_other_devices():
    end = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    a = prepare(load_scenario("standard"), seed=1, end=end).truth().as_json()
    b = prepare(load_scenario("standard"), seed=1, end=end).truth().as_json()
    c = prepare(load_scenario("standard"), seed=2, end=end).truth().as_json()
    assert a == b
    assert [i["device_ids"] for i in a["incidents"]] != [i["device_ids"] for i in c["incidents"]]


def test_typhoon_truth_lists_only_gauges_it_drives_past_their_alert_level():
    end = datetime(2026, 9, 7, 12, 0, tzinfo=UTC)
    prepared = prepare(load_scenario("typhoon"), seed=1, end=end)
    (storm,) = prepared.incidents
    gauges = [d for d in prepared.fleet if d.kind == "water_level_gauge"]
    assert storm.device_ids  # which ones depends on the tide at landfall: computed, not guessed
    for dev in gauges:
        alert = dev.device.levels.alert_level
        t, peak = prepared.start.timestamp(), -1e9
        while t <= end.timestamp():
            peak = max(peak, dev.gauge.level(t, prepared.world))
            t += 300
        assert (peak >= alert) == (dev.id in storm.device_ids), (dev.id, peak, alert)


def test_lighting_incidents_are_anchored_on_dusk_and_dawn():
    end = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    prepared = prepare(load_scenario("lighting"), seed=1, end=end)
    by_type = {i.type: i for i in prepared.incidents}
    # Hai Phong in late November: sunset ~17:15 ICT (10:15 UTC), sunrise ~06:15 ICT
    lamp = by_type["lamp_failure"].start.astimezone(UTC)
    assert lamp.hour == 11 and 15 <= lamp.minute <= 45
    day = by_type["day_burning"].start.astimezone(UTC)
    assert day.hour == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("incidents: [{type: flatline, at: 1h, for: 2h}]", "outside the scenario"),
        ("incidents: [{type: flatline, at: 1h, fro: 2m}]", "incidents[0].fro"),
        ("incidents: [{type: meltdown, at: 1h, for: 2m}]", "incidents[0].type"),
        ("incidents: [{type: congestion, at: 1h, for: 20m}]", "traffic_camera device(s)"),
        ("incidents: [{type: cable_theft, kind: street_light, at: 1h, for: 20m}]", "applies to"),
        ("incidents: [{type: spike, metric: pm99, at: 1h, for: 5m}]", "no metric 'pm99'"),
        ("incidents: [{type: flatline, at: soon, for: 5m}]", "incidents[0].at"),
        ("incidents: [{type: lamp_failure, at: 1h, for: 5m}]", "shorter than the devices'"),
        ("air: {pm25_mean: -3}", "air.pm25_mean"),
    ],
)
def test_bad_files_are_refused_naming_the_file_and_the_key(tmp_path, extra, message):
    path = _write(tmp_path, BASE + extra + "\n")
    with pytest.raises(ScenarioError) as err:
        prepare(load_scenario(path), seed=1)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_duplicate_keys_and_unknown_names_are_errors(tmp_path):
    path = _write(tmp_path, BASE + "duration: 3h\n")
    with pytest.raises(ScenarioError, match="duplicate key 'duration'"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="bundled: lighting, pollution, standard"):
        load_scenario("no-such-scenario")


def test_history_writes_long_form_rows_of_the_asked_kinds(tmp_path):
    out = tmp_path / "h.csv"
    run = subprocess.run(
        [sys.executable, "-m", "ioc_core.cli.main", "simulate", "history",
         "--kinds", "air_quality_station,water_level_gauge", "--days", "2", "--out", str(out),
         "--seed", "4", "--step", "3600"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(out.open()))
    assert set(rows[0]) == {"time", "device", "metric", "value"}
    devices = {r["device"] for r in rows}
    assert devices == {"aq-001", "aq-002", "wl-001", "wl-002"}
    levels = [float(r["value"]) for r in rows if r["device"] == "wl-001"
              and r["metric"] == "water_level"]  # fmt: skip
    assert len(levels) == 49 and max(levels) - min(levels) > 100  # the tide shows
