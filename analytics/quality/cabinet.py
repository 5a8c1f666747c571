"""Cable theft: a lighting cabinet's power collapses while its lights should be on.

Copper thieves cut a live circuit: the cabinet's contactors stay closed (``state`` 1) but the
load behind them is gone, so its power falls to a fraction of what it draws lit. "What it
draws lit" is learnt per cabinet, online, as full-output power (power / dim_level) over its
healthy lit instants, so the midnight dimming step is not a collapse; until a cabinet has been
seen lit, only a near-zero draw (below ``cabinet_min_power_kw``) counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import Connection

from analytics.alerts import Finding
from analytics.quality.directory import Locations
from analytics.quality.lighting import CABINET, LightingParams, SnapshotDetector, should_be_on
from analytics.quality.snapshots import Snapshot
from analytics.quality.wording import num
from ioc_core.settings import Settings


@dataclass(frozen=True)
class CabinetParams:
    collapse_fraction: float = 0.3  # below this share of the learnt lit power: collapsed
    learn_rate: float = 0.2  # EWMA weight of a new healthy lit instant
    min_learnt: int = 3  # healthy lit instants before the learnt power is trusted


@dataclass
class _Baseline:
    full_kw: float = 0.0  # power at 100 % dimming level, EWMA
    samples: int = 0


class CableTheftDetector(SnapshotDetector):
    kinds = frozenset({CABINET})
    KIND = "cable_theft"

    def __init__(
        self,
        params: LightingParams | None = None,
        locations: Locations | None = None,
        cabinet: CabinetParams | None = None,
    ) -> None:
        super().__init__(params, locations)
        self.c = cabinet or CabinetParams()
        self._baselines: dict[str, _Baseline] = {}

    def judge(self, snap: Snapshot) -> tuple[bool, str] | None:
        state, power, dim = snap.get("state"), snap.get("power"), snap.get("dim_level")
        if power is None:
            return None
        _, into_night = self.phase(snap)
        on, why_on = should_be_on(snap, into_night, self.p.dark_margin_s)
        if not on:
            return False, "circuits off"
        share = (dim / 100.0) if dim is not None and dim > 0 else 1.0
        base = self._baselines.setdefault(snap.device_id, _Baseline())
        trusted = base.samples >= self.c.min_learnt
        expected = base.full_kw * share if trusted else None
        if expected is not None:
            limit = max(self.c.collapse_fraction * expected, self.p.cabinet_min_power_kw)
        else:
            limit = self.p.cabinet_min_power_kw
        if power < limit:
            if expected is not None:
                return True, (
                    f"{why_on} but the circuits draw {num(power)} kW, "
                    f"{num(100 * power / expected)} % of the {num(expected)} kW they draw lit at "
                    f"{num(100 * share)} % dimming (collapse below "
                    f"{num(100 * self.c.collapse_fraction)} %): a cut or stolen cable"
                )
            return True, (f"{why_on} but the circuits draw {num(power)} kW (below "
                          f"{num(limit)} kW): a cut or stolen cable")  # fmt: skip
        if state is not None and "power" in snap.fresh:
            full = power / share
            if base.samples == 0:
                base.full_kw = full
            else:
                base.full_kw += self.c.learn_rate * (full - base.full_kw)
            base.samples += 1
        return False, f"circuits draw {num(power)} kW"

    def finding(self, snap: Snapshot, *, active: bool, why: str) -> Finding:
        return Finding(
            kind=self.KIND, device_id=snap.device_id, key="circuits", active=active,
            severity="critical", time=snap.time,
            title="Cabinet power collapsed: possible cable theft" if active
            else "Cabinet power restored",
            reason=(f"{why}; seen on {self.p.open_after} reports in a row" if active else why),
            metric="power", value=snap.get("power"),
        )  # fmt: skip


def factory(settings: Settings, conn: Connection) -> CableTheftDetector:
    from analytics.quality.config import cabinet_params, lighting_params

    return CableTheftDetector(lighting_params(settings), Locations(conn), cabinet_params(settings))
