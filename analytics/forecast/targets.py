"""What is forecast, at which step, how far ahead, and against which season.

The seasonal-naive baseline repeats the value one season back; the season is the strongest
simple cycle of each quantity (a day for PM2.5 and energy use, a week for traffic, two tidal
cycles for water level), so beating it means beating the obvious.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

__all__ = ["TARGETS", "TargetSpec", "spec_for"]

HOUR: Final = 3600
DAY: Final = 86_400

# Principal lunar semidiurnal (M2), principal solar (S2), lunar elliptic (N2), lunisolar
# diurnal (K1) and principal lunar diurnal (O1) periods in hours: the constituents that carry
# most of a tide's range; enough for a gauge's astronomical part from a few weeks of data.
TIDE_PERIODS_H: Final = (12.4206012, 12.0, 12.65834751, 23.93447213, 25.81933871)


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One forecast target. ``horizon_s`` and ``season_s`` are multiples of ``step_s``."""

    metric: str
    step_s: int
    horizon_s: int
    season_s: int
    transform: Literal["log1p", "none"] = "none"
    tide: bool = False  # add a harmonic tide prediction as a feature (water level)
    nonnegative: bool = True

    @property
    def horizons(self) -> int:
        return self.horizon_s // self.step_s

    @property
    def season(self) -> int:
        return max(1, self.season_s // self.step_s)

    def with_step(self, step_s: int) -> TargetSpec:
        """The same target on a coarser or finer grid (a file's own step, e.g. hourly I-94)."""
        return replace(self, step_s=step_s)


TARGETS: Final[dict[str, TargetSpec]] = {
    # Skewed, multiplicative swings: quantiles are fitted on log1p and mapped back (quantiles
    # commute with a monotone transform, so nothing is lost).
    "pm25": TargetSpec("pm25", HOUR, 48 * HOUR, DAY, transform="log1p"),
    "pm10": TargetSpec("pm10", HOUR, 48 * HOUR, DAY, transform="log1p"),
    "traffic_volume": TargetSpec("traffic_volume", 900, 6 * HOUR, 7 * DAY, transform="log1p"),
    "water_level": TargetSpec(
        "water_level", HOUR, 24 * HOUR, 25 * HOUR, tide=True, nonnegative=False
    ),
    "energy_daily": TargetSpec("energy_daily", DAY, 7 * DAY, 7 * DAY),
}


def spec_for(metric: str, *, step_s: int | None = None) -> TargetSpec:
    """The spec of a known metric, or an hourly one-day-season default for any other."""
    spec = TARGETS.get(metric) or TargetSpec(metric, HOUR, 24 * HOUR, DAY, nonnegative=False)
    if step_s is not None and step_s != spec.step_s:
        spec = spec.with_step(step_s)
    if spec.horizons < 1:
        raise ValueError(f"{metric}: step {spec.step_s} s is longer than the horizon")
    return spec
