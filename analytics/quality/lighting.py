"""Street lighting: lamp failures and day-burning, judged per instant against the sun.

A light "should be on" when its controller says so (``state`` 1) or when it is well into the
night at its own coordinates (``dark_margin_s`` past sunset and before sunrise, so the few
minutes a photocell or astronomical clock may differ from astral's sunset never count). It
is "lit" when ``state`` is 1 or it draws more than ``min_power_w``. Instants are judged whole
(:mod:`analytics.quality.snapshots`) and debounced (``open_after`` instants in a row).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from psycopg import Connection

from analytics.alerts import Finding, Reading
from analytics.quality.directory import Locations
from analytics.quality.persistence import Debounce
from analytics.quality.snapshots import Snapshot, SnapshotBuffer
from analytics.quality.sun import HAI_PHONG, sun_phase
from analytics.quality.wording import duration, num
from ioc_core.settings import Settings

STREET_LIGHT = "street_light"
CABINET = "lighting_cabinet"


@dataclass(frozen=True)
class LightingParams:
    min_power_w: float = 5.0  # a street light below this is dark ("~0 W")
    cabinet_min_power_kw: float = 0.1  # a cabinet below this feeds no lit lamp
    dark_margin_s: float = 1800.0  # how far into the night "should be on" by schedule
    daylight_margin_s: float = 1800.0  # how far into the day "lit" is day-burning
    min_dim_pct: float = 5.0  # dimmed below this, ~0 W is what was asked for
    open_after: int = 2  # instants in a row (15 min apart for a street light)
    clear_after: int = 1


class SnapshotDetector:
    """Shared plumbing: group readings into instants, judge each, debounce per device."""

    # The device kinds judged; also the engine's routing (Detector protocol): readings of
    # other kinds never reach observe(). Every metric of these kinds is wanted.
    kinds: frozenset[str] = frozenset()
    metrics: frozenset[str] | None = None

    def __init__(
        self, params: LightingParams | None = None, locations: Locations | None = None
    ) -> None:
        self.p = params or LightingParams()
        self.locations = locations or Locations()
        self._buffer = SnapshotBuffer(self.kinds)
        self._state: dict[str, Debounce] = {}

    def observe(self, reading: Reading) -> Iterable[Finding]:
        return self._judge_all(self._buffer.add(reading))

    def tick(self, watermark: datetime) -> Iterable[Finding]:
        return self._judge_all(self._buffer.flush(watermark))

    def _judge_all(self, snaps: list[Snapshot]) -> list[Finding]:
        out: list[Finding] = []
        for snap in snaps:
            verdict = self.judge(snap)
            if verdict is None:
                continue  # not enough known to judge this instant
            bad, why = verdict
            deb = self._state.get(snap.device_id)
            if deb is None:
                deb = self._state[snap.device_id] = Debounce(self.p.open_after, self.p.clear_after)
            change = deb.update(bad)
            if change is not None:
                out.append(self.finding(snap, active=change, why=why))
        return out

    def phase(self, snap: Snapshot) -> tuple[float, float]:
        lat, lon = self.locations.get(snap.device_id) or HAI_PHONG
        return sun_phase(snap.time, lat, lon)

    def judge(self, snap: Snapshot) -> tuple[bool, str] | None:
        raise NotImplementedError

    def finding(self, snap: Snapshot, *, active: bool, why: str) -> Finding:
        raise NotImplementedError


def _lit(snap: Snapshot, *, power_floor: float) -> bool | None:
    """The controller's own ``state`` when it reports one; otherwise the power it draws (a
    big cabinet's control gear alone can draw 0.1 kW, so power is only the fallback)."""
    state, power = snap.get("state"), snap.get("power")
    if state is not None:
        return state >= 0.5
    if power is not None:
        return power > power_floor
    return None


def should_be_on(snap: Snapshot, into_night_s: float, margin_s: float) -> tuple[bool, str]:
    """Per its reported state; per the sun only when it reports none. A light an operator
    switched off at night says ``state`` 0 and is not a failure."""
    state = snap.get("state")
    if state is not None:
        return state >= 0.5, "its state is on"
    return into_night_s >= margin_s, "it is well into the night at its coordinates"


class LampFailureDetector(SnapshotDetector):
    """A street light that should be on but is dark (~0 W), or reports a fault code."""

    kinds = frozenset({STREET_LIGHT})
    KIND = "lamp_failure"

    def judge(self, snap: Snapshot) -> tuple[bool, str] | None:
        fault = snap.get("fault_code")
        if fault is not None and fault > 0:
            return True, f"fault code {num(fault)} reported (0 is healthy)"
        power, dim = snap.get("power"), snap.get("dim_level")
        if power is None:
            return None
        _, into_night = self.phase(snap)
        on, why_on = should_be_on(snap, into_night, self.p.dark_margin_s)
        if dim is not None and dim < self.p.min_dim_pct:
            return False, f"dimmed to {num(dim)} %"
        if on and power < self.p.min_power_w:
            return True, (
                f"{why_on} but it draws {num(power)} W (below {num(self.p.min_power_w)} W): "
                f"lamp or driver failed"
            )
        return False, f"draws {num(power)} W"

    def finding(self, snap: Snapshot, *, active: bool, why: str) -> Finding:
        power = snap.get("power")
        return Finding(
            kind=self.KIND, device_id=snap.device_id, key="lamp", active=active,
            severity="warning", time=snap.time,
            title="Street light failed" if active else "Street light working again",
            reason=(f"{why}; seen on {self.p.open_after} reports in a row" if active
                    else f"lamp working again: {why}"),
            metric="power", value=power, threshold=self.p.min_power_w if active else None,
        )  # fmt: skip


class DayBurningDetector(SnapshotDetector):
    """A street light or a cabinet's circuits on in full daylight (wasted energy, a stuck
    contactor or a timer that lost its clock)."""

    kinds = frozenset({STREET_LIGHT, CABINET})
    KIND = "day_burning"

    def judge(self, snap: Snapshot) -> tuple[bool, str] | None:
        floor = self.p.cabinet_min_power_kw if snap.kind == CABINET else self.p.min_power_w
        lit = _lit(snap, power_floor=floor)
        if lit is None:
            return None
        into_day, _ = self.phase(snap)
        unit = "kW" if snap.kind == CABINET else "W"
        power = snap.get("power")
        drawing = f", drawing {num(power)} {unit}" if power is not None else ""
        if lit and into_day >= self.p.daylight_margin_s:
            return True, (f"on{drawing} at {snap.time:%H:%M} UTC, {duration(into_day)} from "
                          f"sunrise/sunset at its coordinates (full daylight)")  # fmt: skip
        return False, ("off" if not lit else "on, but not in full daylight")

    def finding(self, snap: Snapshot, *, active: bool, why: str) -> Finding:
        return Finding(
            kind=self.KIND, device_id=snap.device_id, key="daylight", active=active,
            severity="advisory", time=snap.time,
            title="Lights on in daylight" if active else "Lights off in daylight again",
            reason=(f"{why}; seen on {self.p.open_after} reports in a row" if active else why),
            metric="power", value=snap.get("power"),
        )  # fmt: skip


def lamp_failure_factory(settings: Settings, conn: Connection) -> LampFailureDetector:
    from analytics.quality.config import lighting_params

    return LampFailureDetector(lighting_params(settings), Locations(conn))


def day_burning_factory(settings: Settings, conn: Connection) -> DayBurningDetector:
    from analytics.quality.config import lighting_params

    return DayBurningDetector(lighting_params(settings), Locations(conn))
