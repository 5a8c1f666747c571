"""Lighting detectors on three nights of realistic street lights and cabinets: switched at
dusk and dawn (astral, Hai Phong), dimmed 70 % at 22:00 and 50 % after midnight, 15-minute
reports plus one at each switch. Quiet on the clean nights; each fault fires at night (or in
daylight for day-burning) and clears."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from analytics.alerts import Reading
from analytics.quality.cabinet import CableTheftDetector
from analytics.quality.directory import Locations
from analytics.quality.lighting import DayBurningDetector, LampFailureDetector
from analytics.quality.sun import ICT, sun_times
from tests.analytics.test_quality_signals import START, merged, run

HP = (20.8449, 106.6881)
SWITCH = timedelta(minutes=10)
WHERE = Locations(known={"sl-001": HP, "sl-002": HP, "cab-001": HP, "cab-002": (20.86, 106.72)})


def dark(at: datetime) -> bool:
    day = at.astimezone(ICT).date()
    for d in (day - timedelta(days=1), day):
        on = sun_times(*HP, d)[1] + SWITCH
        off = sun_times(*HP, d + timedelta(days=1))[0] - SWITCH
        if on <= at < off:
            return True
    return False


def level(at: datetime) -> int:
    minute = at.astimezone(ICT).hour * 60 + at.astimezone(ICT).minute
    return 50 if minute < 270 else 100 if minute < 1320 else 70


def report_times(start: datetime, hours: float, step_s: int) -> list[datetime]:
    """Every ``step_s`` plus the instants the lights switch (devices report on change)."""
    times = {start + timedelta(seconds=i * step_s) for i in range(int(hours * 3600 / step_s))}
    day = start.astimezone(ICT).date()
    for d in range(int(hours / 24) + 2):
        on = sun_times(*HP, day + timedelta(days=d - 1))[1] + SWITCH
        off = sun_times(*HP, day + timedelta(days=d))[0] - SWITCH
        times |= {t for t in (on, off) if start <= t < start + timedelta(hours=hours)}
    return sorted(times)


def street_light(device: str, hours: float, *, rated: float = 120.0, seed: int = 1,
                 fault=None) -> list[Reading]:  # fmt: skip
    rng = random.Random(seed)
    out = []
    for at in report_times(START, hours, 900):
        lit = dark(at)
        power = rated * (0.08 + 0.92 * level(at) / 100) if lit else 0.6
        values = {"state": 1.0 if lit else 0.0, "dim_level": float(level(at)),
                  "power": round(power * (1 + rng.gauss(0, 0.01)), 1),
                  "voltage": round(222 + rng.gauss(0, 2), 1), "fault_code": 0.0}  # fmt: skip
        if fault:
            values = fault(at, values)
        out += [Reading(device, "sxd", "street_light", None, m, at, v) for m, v in values.items()]
    return out


def cabinet(device: str, hours: float, *, lights: int = 150, fault=None) -> list[Reading]:
    rng = random.Random(device)
    out = []
    for at in report_times(START, hours, 300):
        lit = dark(at)
        per_lamp = 100 * (0.08 + 0.92 * level(at) / 100) if lit else 0.6
        kw = (lights * per_lamp * 1.04 + 15) / 1000 * (1 + rng.gauss(0, 0.005))
        values = {"state": 1.0 if lit else 0.0, "dim_level": float(level(at)),
                  "power": round(kw, 3), "door_open": 0.0, "fault_code": 0.0}  # fmt: skip
        if fault:
            values = fault(at, values)
        out += [
            Reading(device, "sxd", "lighting_cabinet", None, m, at, v) for m, v in values.items()
        ]
    return out


def clean_city(hours: float = 72) -> list[Reading]:
    return merged(
        iter(street_light("sl-001", hours)),
        iter(street_light("sl-002", hours, seed=2)),
        iter(cabinet("cab-001", hours)),
        iter(cabinet("cab-002", hours, lights=20)),
    )


def test_quiet_over_three_clean_nights() -> None:
    city = clean_city()
    for detector in (LampFailureDetector(locations=WHERE), DayBurningDetector(locations=WHERE),
                     CableTheftDetector(locations=WHERE)):  # fmt: skip
        assert run(detector, city) == [], type(detector).__name__


# 21:00 local on the second night: lit, full output.
NIGHT = datetime(2026, 11, 22, 21, 0, tzinfo=ICT)


def test_lamp_failure_on_a_fault_code_at_night_and_clear() -> None:
    end = NIGHT + timedelta(hours=2)

    def broken(at: datetime, v: dict[str, float]) -> dict[str, float]:
        return {**v, "fault_code": 1.0, "power": 0.6} if NIGHT <= at < end else v

    city = merged(iter(clean_city()), iter(street_light("sl-009", 72, fault=broken)))
    found = run(LampFailureDetector(locations=WHERE), city)
    assert [(f.device_id, f.active) for f in found] == [("sl-009", True), ("sl-009", False)]
    assert found[0].time == NIGHT + timedelta(minutes=15)  # second report in a row
    assert "fault code 1" in found[0].reason
    assert found[1].time == end


def test_lamp_failure_on_zero_watts_while_on() -> None:
    def dark_lamp(at: datetime, v: dict[str, float]) -> dict[str, float]:
        return {**v, "power": 0.4} if NIGHT <= at < NIGHT + timedelta(hours=1) else v

    found = run(LampFailureDetector(locations=WHERE), street_light("sl-001", 72, fault=dark_lamp))
    assert [f.active for f in found] == [True, False]
    assert "its state is on but it draws 0.4 W" in found[0].reason


def test_day_burning_street_light_and_cabinet() -> None:
    noon = datetime(2026, 11, 22, 11, 0, tzinfo=ICT)

    def stuck_on(at: datetime, v: dict[str, float]) -> dict[str, float]:
        return (
            {**v, "state": 1.0, "dim_level": 100.0} if noon <= at < noon + timedelta(hours=2) else v
        )

    city = merged(
        iter(street_light("sl-001", 72, fault=stuck_on)),
        iter(cabinet("cab-002", 72, fault=stuck_on)),
    )
    found = run(DayBurningDetector(locations=WHERE), city)
    assert sorted((f.device_id, f.active) for f in found) == [
        ("cab-002", False), ("cab-002", True), ("sl-001", False), ("sl-001", True),
    ]  # fmt: skip
    opened = {f.device_id: f for f in found if f.active}
    assert opened["cab-002"].time == noon + timedelta(minutes=5)
    assert opened["sl-001"].time == noon + timedelta(minutes=15)
    assert "full daylight" in opened["sl-001"].reason


def test_cable_theft_after_the_cabinet_learnt_its_load() -> None:
    theft = NIGHT + timedelta(hours=1)

    def cut(at: datetime, v: dict[str, float]) -> dict[str, float]:
        return {**v, "power": 0.015} if theft <= at < theft + timedelta(minutes=90) else v

    found = run(CableTheftDetector(locations=WHERE), cabinet("cab-001", 72, fault=cut))
    assert [(f.active, f.severity) for f in found] == [(True, "critical"), (False, "critical")]
    assert found[0].time == theft + timedelta(minutes=5)
    assert "% of the" in found[0].reason and "stolen cable" in found[0].reason


def test_cable_theft_partial_collapse_below_the_learnt_share() -> None:
    """A third of the circuit left: far above the near-zero floor, yet a collapse."""
    theft = NIGHT + timedelta(hours=1)

    def cut(at: datetime, v: dict[str, float]) -> dict[str, float]:
        return (
            {**v, "power": round(v["power"] * 0.2, 3)}
            if theft <= at < theft + timedelta(hours=1)
            else v
        )

    found = run(CableTheftDetector(locations=WHERE), cabinet("cab-001", 72, fault=cut))
    assert [f.active for f in found] == [True, False]
    assert found[0].value is not None and found[0].value > 1.0  # kW: not "zero"


def test_no_lamp_failure_for_a_light_switched_off_by_an_operator() -> None:
    def off(at: datetime, v: dict[str, float]) -> dict[str, float]:
        return {**v, "state": 0.0, "power": 0.6} if NIGHT <= at < NIGHT + timedelta(hours=2) else v

    assert run(LampFailureDetector(locations=WHERE), street_light("sl-001", 72, fault=off)) == []
