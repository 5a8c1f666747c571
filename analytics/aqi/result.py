"""What an AQI computation returns, and the one rule that combines sub-indices into it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from analytics.aqi.bands import Band, band_for
from analytics.aqi.breakpoints import METRICS, Metric, round_aqi

__all__ = ["AqiResult", "combine"]


@dataclass(frozen=True, slots=True)
class AqiResult:
    """``aqi`` is ``None`` when the data do not allow one (never a guess); ``sub_indices`` keeps
    every parameter's unrounded value, since the decision asks to publish them all."""

    aqi: int | None
    dominant: Metric | None
    sub_indices: Mapping[Metric, float] = field(default_factory=dict)

    @property
    def band(self) -> Band | None:
        return None if self.aqi is None else band_for(self.aqi)


def combine(sub_indices: Mapping[Metric, float]) -> AqiResult:
    """The station AQI: the highest sub-index, rounded; ``None`` without PM10 or PM2.5.

    The dominant parameter is the one with the highest unrounded sub-index; a tie goes to the
    first in :data:`METRICS` order (PM first).
    """
    subs = {m: sub_indices[m] for m in METRICS if m in sub_indices}
    if "pm25" not in subs and "pm10" not in subs:
        return AqiResult(None, None, subs)
    dominant = max(subs, key=lambda m: (subs[m], -METRICS.index(m)))
    return AqiResult(round_aqi(subs[dominant]), dominant, subs)
