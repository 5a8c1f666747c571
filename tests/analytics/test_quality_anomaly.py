"""Statistical anomalies: against neighbouring stations, and against the device's own daily
profile. Six stations around the centre and one on Bạch Long Vĩ share the city's weather
(diurnal, day-to-day, and a cold front on the second afternoon that moves every station);
one station's sensor drifts. The drift is raised; the front, rush hours and noise are not."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from analytics.alerts import Reading
from analytics.quality.anomaly import ProfileAnomalyDetector
from analytics.quality.anomaly_neighbour import NeighbourAnomalyDetector
from analytics.quality.directory import Locations
from analytics.quality.neighbours import distance_km
from tests.analytics.test_quality_signals import START, STATIONS, AirStation, merged, run

WHERE = Locations(known=STATIONS)
DRIFT = (START + timedelta(hours=30), START + timedelta(hours=32))


def fleet(hours: float, fault=None, *, seed: int = 0) -> list[Reading]:
    stations = [AirStation(d, seed=seed + i, urban=0.7 + 0.1 * i) for i, d in enumerate(STATIONS)]
    stream = merged(*(s.stream(START, hours) for s in stations))
    return [fault(r) if fault else r for r in stream]


def drift(device: str, metric: str, total: float):
    """The simulator's drift: linear to ``total`` at the end of the window, then gone."""

    def apply(r: Reading) -> Reading:
        if r.device_id == device and r.metric == metric and DRIFT[0] <= r.time < DRIFT[1]:
            progress = (r.time - DRIFT[0]) / (DRIFT[1] - DRIFT[0])
            return replace(r, value=round(r.value + total * progress, 2))
        return r

    return apply


def test_neighbours_are_the_near_stations() -> None:
    assert distance_km(STATIONS["aq-001"], STATIONS["aq-002"]) < 5
    assert distance_km(STATIONS["aq-001"], STATIONS["aq-blv"]) > 100


def test_neighbour_check_quiet_through_weather_and_a_front() -> None:
    assert run(NeighbourAnomalyDetector(locations=WHERE), fleet(44)) == []


def test_neighbour_check_raises_a_temperature_drift_and_clears() -> None:
    found = run(
        NeighbourAnomalyDetector(locations=WHERE), fleet(36, drift("aq-003", "temperature", 12))
    )
    assert [(f.device_id, f.key, f.active) for f in found] == [
        ("aq-003", "temperature", True), ("aq-003", "temperature", False),
    ]  # fmt: skip
    opened, cleared = found
    assert DRIFT[0] < opened.time < DRIFT[0] + timedelta(minutes=45)
    assert DRIFT[1] <= cleared.time < DRIFT[1] + timedelta(minutes=45)
    assert "neighbouring air_quality_station stations" in opened.reason and "z = " in opened.reason


def test_neighbour_check_raises_an_ozone_drift() -> None:
    found = run(NeighbourAnomalyDetector(locations=WHERE), fleet(36, drift("aq-005", "o3", 120)))
    assert [(f.device_id, f.key, f.active) for f in found][:1] == [("aq-005", "o3", True)]
    assert "%" in found[0].reason  # o3 compares on a log scale


def history(detector: ProfileAnomalyDetector, days: int) -> None:
    """Hourly means as telemetry_1h holds them, for the days before START."""
    for i, device in enumerate(STATIONS):
        st = AirStation(device, seed=100 + i, urban=0.7 + 0.1 * i)
        for h in range(days * 24, 0, -1):
            at = START - timedelta(hours=h) + timedelta(minutes=30)
            for metric, value in st.sample(at, dt=3600).items():
                detector.learn_history(device, "air_quality_station", metric,
                                       at - timedelta(minutes=30), value)  # fmt: skip


def profiled(days: int = 14) -> ProfileAnomalyDetector:
    detector = ProfileAnomalyDetector(locations=WHERE)
    history(detector, days)
    return detector


def test_profile_check_quiet_through_weather_and_a_front() -> None:
    assert run(profiled(), fleet(44)) == []


def test_profile_check_raises_a_drift_the_neighbours_do_not_share() -> None:
    found = run(profiled(), fleet(36, drift("aq-002", "temperature", 12)))
    assert [(f.device_id, f.key, f.active) for f in found] == [
        ("aq-002", "temperature", True), ("aq-002", "temperature", False),
    ]  # fmt: skip
    opened = found[0]
    assert DRIFT[0] < opened.time < DRIFT[1]
    assert "own daily profile" in opened.reason


def test_profile_check_does_not_judge_without_history() -> None:
    fresh = ProfileAnomalyDetector(locations=WHERE)
    assert run(fresh, fleet(36, drift("aq-002", "temperature", 12))) == []


def test_profile_check_leaves_a_shared_departure_alone() -> None:
    """Every station 6 °C warmer than usual for hours: the city's weather, not six sensors."""

    def heatwave(r: Reading) -> Reading:
        if r.metric == "temperature" and DRIFT[0] <= r.time < DRIFT[1] and r.device_id != "aq-blv":
            return replace(r, value=r.value + 6)
        return r

    assert run(profiled(), fleet(36, heatwave)) == []
