"""Single-series detectors on realistic signals: flat-line, spike, out-of-range, dropout,
PM2.5 > PM10. Each stays quiet on two days of clean data and fires on its fault, at the
right event time, then clears."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from analytics.alerts import Reading
from analytics.quality.dropout import DropoutDetector
from analytics.quality.flatline import FlatlineDetector
from analytics.quality.out_of_range import OutOfRangeDetector
from analytics.quality.pm_ratio import PmRatioDetector
from analytics.quality.spike import SpikeDetector
from tests.analytics.test_quality_signals import START, AirStation, merged, minutes, run


def fleet_stream(hours: float, fault=None):
    """Three stations; ``fault(reading) -> reading | None`` edits or drops readings."""
    stations = [AirStation(f"aq-00{i}", seed=i, urban=0.8 + 0.2 * i) for i in range(1, 4)]
    for r in merged(*(s.stream(START, hours) for s in stations)):
        out = fault(r) if fault else r
        if out is not None:
            yield out


@pytest.mark.parametrize(
    "detector", [FlatlineDetector, SpikeDetector, OutOfRangeDetector, DropoutDetector,
                 PmRatioDetector],
)  # fmt: skip
def test_quiet_on_two_clean_days(detector) -> None:
    assert run(detector(), fleet_stream(48)) == []


FAULT_AT = START + timedelta(hours=30)


def test_flatline_fires_after_its_minimum_and_clears() -> None:
    end = FAULT_AT + timedelta(minutes=60)

    def freeze(r: Reading) -> Reading:
        if r.device_id == "aq-002" and r.metric == "pm25" and FAULT_AT <= r.time < end:
            return replace(r, value=41.7)
        return r

    found = run(FlatlineDetector(), fleet_stream(36, freeze))
    assert [(f.device_id, f.key, f.active) for f in found] == [
        ("aq-002", "pm25", True), ("aq-002", "pm25", False),
    ]  # fmt: skip
    opened, cleared = found
    assert opened.time == FAULT_AT + timedelta(minutes=15)  # min_s 900 s, 16 readings
    assert "41.7 ug/m3" in opened.reason and "16 times" in opened.reason
    assert cleared.time == end


def test_flatline_ignores_saturation_at_a_bound() -> None:
    """Relative humidity pinned at 100 % in rain is physics, not a stuck sensor."""

    def rain(r: Reading) -> Reading:
        if r.metric == "humidity" and FAULT_AT <= r.time < FAULT_AT + timedelta(hours=2):
            return replace(r, value=100.0)
        return r

    assert run(FlatlineDetector(), fleet_stream(36, rain)) == []


def test_spike_one_reading_fires_at_its_time_and_clears_next() -> None:
    def spike(r: Reading) -> Reading:
        if r.device_id == "aq-001" and r.metric == "temperature" and r.time == FAULT_AT:
            return replace(r, value=r.value + 18)
        return r

    found = run(SpikeDetector(), fleet_stream(36, spike))
    assert [(f.device_id, f.key, f.active, f.time) for f in found] == [
        ("aq-001", "temperature", True, FAULT_AT),
        ("aq-001", "temperature", False, FAULT_AT + timedelta(minutes=1)),
    ]
    assert "above the median" in found[0].reason and "robust sd" in found[0].reason


def test_spike_ignores_a_step_that_stays() -> None:
    """A drain filling in a storm jumps and stays: a step, not a spike."""
    step = []
    for at in minutes(START, 12, step_s=300):
        level = 12.0 + 0.3 * ((at - START).total_seconds() // 300 % 3)
        if at >= START + timedelta(hours=6):
            level += 95.0
        step.append(Reading("dr-001", "t", "drainage_sensor", None, "level", at, level))
    assert run(SpikeDetector(), step) == []


def test_out_of_range_opens_and_clears_after_three_plausible_readings() -> None:
    det = OutOfRangeDetector()
    r = Reading("aq-001", "t", "air_quality_station", None, "humidity", FAULT_AT, 150.0)
    (opened,) = det.observe(r)
    assert opened.active and opened.threshold == 100.0
    assert "150 %" in opened.reason and "above the maximum" in opened.reason
    minute = timedelta(minutes=1)
    assert list(det.observe(replace(r, value=151.0, time=FAULT_AT + minute))) == []
    assert list(det.observe(replace(r, value=80.0, time=FAULT_AT + 2 * minute))) == []
    # A gust back over the bound keeps the one alert open: no flapping.
    assert list(det.observe(replace(r, value=101.0, time=FAULT_AT + 3 * minute))) == []
    for i in (4, 5):
        assert list(det.observe(replace(r, value=80.0, time=FAULT_AT + i * minute))) == []
    (cleared,) = det.observe(replace(r, value=80.0, time=FAULT_AT + 6 * minute))
    assert not cleared.active and cleared.time == FAULT_AT + 6 * minute


def test_out_of_range_seen_late_opens_and_clears_at_once() -> None:
    """The dead-letter tail lags the stream: the fault is recorded at its event time, and
    is already over if three plausible readings followed it."""
    det = OutOfRangeDetector()
    ok = Reading("dr-001", "t", "drainage_sensor", None, "level", FAULT_AT, 14.0)
    for i in range(3):
        assert list(det.observe(replace(ok, time=FAULT_AT + timedelta(minutes=5 * i)))) == []
    late = replace(ok, value=750.0, time=FAULT_AT - timedelta(minutes=5))
    opened, cleared = det.observe(late)
    assert opened.active and opened.time == late.time
    assert not cleared.active and cleared.time == FAULT_AT + timedelta(minutes=10)


def test_dropout_whole_device_then_back() -> None:
    gap = (FAULT_AT, FAULT_AT + timedelta(minutes=40))

    def silence(r: Reading) -> Reading | None:
        return None if r.device_id == "aq-003" and gap[0] <= r.time < gap[1] else r

    found = run(DropoutDetector(), fleet_stream(36, silence))
    assert [(f.device_id, f.key, f.active) for f in found] == [
        ("aq-003", "device", True), ("aq-003", "device", False),
    ]  # fmt: skip
    opened, cleared = found
    last = gap[0] - timedelta(minutes=1)
    assert opened.time == last + timedelta(minutes=4)  # 4 x 60 s, not below 240 s
    assert cleared.time == gap[1]
    assert "no reading of any metric" in opened.reason


def test_dropout_of_one_metric_while_the_device_reports() -> None:
    lost = (FAULT_AT, FAULT_AT + timedelta(hours=2))

    def lose_o3(r: Reading) -> Reading | None:
        drop = r.device_id == "aq-001" and r.metric == "o3"
        return None if drop and lost[0] <= r.time < lost[1] else r

    found = run(DropoutDetector(), fleet_stream(36, lose_o3))
    assert [(f.device_id, f.key, f.active) for f in found] == [
        ("aq-001", "o3", True), ("aq-001", "o3", False),
    ]  # fmt: skip
    opened, cleared = found
    # Judged when the next instant begins after an hour (metric_min_s) without it.
    assert opened.time == lost[0] - timedelta(minutes=1) + timedelta(hours=1)
    assert cleared.time == lost[1]
    assert "other metrics still arrive" in opened.reason


def test_dropout_of_a_device_whose_last_will_fired_is_left_to_connectivity() -> None:
    gap = (FAULT_AT, FAULT_AT + timedelta(minutes=40))

    def silence(r: Reading) -> Reading | None:
        return None if r.device_id == "aq-003" and gap[0] <= r.time < gap[1] else r

    detector = DropoutDetector(offline=lambda device_id: device_id == "aq-003")
    assert run(detector, fleet_stream(36, silence)) == []


def test_pm_ratio_opens_on_the_fifth_pair_and_clears() -> None:
    end = FAULT_AT + timedelta(minutes=30)

    def inlet(r: Reading) -> Reading:
        return r

    stream = list(fleet_stream(36))
    pm25 = {(r.device_id, r.time): r.value for r in stream if r.metric == "pm25"}
    broken = [
        replace(r, value=round(pm25[(r.device_id, r.time)] * 0.6, 1))
        if r.metric == "pm10" and r.device_id == "aq-002" and FAULT_AT <= r.time < end
        else r
        for r in stream
    ]
    found = run(PmRatioDetector(), broken)
    assert [(f.device_id, f.active) for f in found] == [("aq-002", True), ("aq-002", False)]
    assert found[0].time == FAULT_AT + timedelta(minutes=4)
    assert found[1].time == end + timedelta(minutes=4)
    assert "exceeds PM10" in found[0].reason


def test_pm_ratio_leaves_a_frozen_channel_to_the_flatline_detector() -> None:
    """PM2.5 stuck at its morning value while PM10 falls below it by evening."""

    def freeze(r: Reading) -> Reading:
        if r.device_id == "aq-002" and r.metric == "pm25" and r.time >= FAULT_AT:
            return replace(r, value=400.0)
        return r

    assert run(PmRatioDetector(), fleet_stream(36, freeze)) == []


def test_flatline_ignores_a_signal_pressed_against_a_ceiling() -> None:
    """A transmitter clipping at 40: the signal creeps up to the ceiling and sits there for
    hours, alternating 39.9 and 40.0 and holding each for a while. Not a frozen sensor."""
    import math

    def clip(r: Reading) -> Reading:
        if r.metric != "pm25":
            return r
        knee, cap = 32.0, 40.0
        v = r.value * 2.5
        soft = v if v <= knee else knee + (cap - knee) * math.tanh((v - knee) / (cap - knee))
        return replace(r, value=round(soft, 1))

    stream = list(fleet_stream(36, clip))
    assert sum(1 for r in stream if r.metric == "pm25" and r.value >= 39.9) > 500
    assert run(FlatlineDetector(), stream) == []
