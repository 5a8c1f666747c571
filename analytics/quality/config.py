"""Detector parameters from the settings block ``# --- quality ---`` (docs/quality.md).

The dataclass defaults are the documented defaults; settings override the few that operators
tune, so a detector built in a test without settings behaves as one built by the engine.
"""

from __future__ import annotations

from analytics.quality.anomaly_series import anomaly_series
from analytics.quality.cabinet import CabinetParams
from analytics.quality.dropout import DropoutParams
from analytics.quality.flatline import FlatlineParams
from analytics.quality.lighting import LightingParams
from analytics.quality.pm_ratio import PmRatioParams
from analytics.quality.spike import SpikeParams
from analytics.quality.traffic import CongestionParams
from ioc_core.settings import Settings


def flatline_params(s: Settings) -> FlatlineParams:
    return FlatlineParams(min_count=s.quality_flatline_min_count, min_s=s.quality_flatline_min_s)


def spike_params(s: Settings) -> SpikeParams:
    return SpikeParams(window=s.quality_spike_window, k=s.quality_spike_k,
                       min_history=min(8, s.quality_spike_window))  # fmt: skip


def dropout_params(s: Settings) -> DropoutParams:
    return DropoutParams(factor=s.quality_dropout_factor, min_gap_s=s.quality_dropout_min_s)


def pm_ratio_params(s: Settings) -> PmRatioParams:
    return PmRatioParams(relative=s.quality_pm_ratio_relative,
                         absolute=s.quality_pm_ratio_absolute)  # fmt: skip


def lighting_params(s: Settings) -> LightingParams:
    return LightingParams(
        min_power_w=s.quality_lamp_min_power_w,
        dark_margin_s=s.quality_lighting_margin_s,
        daylight_margin_s=s.quality_lighting_margin_s,
    )


def cabinet_params(s: Settings) -> CabinetParams:
    return CabinetParams(collapse_fraction=s.quality_cable_collapse_fraction)


def congestion_params(s: Settings) -> CongestionParams:
    return CongestionParams(speed_kmh=s.quality_congestion_speed_kmh,
                            occupancy_pct=s.quality_congestion_occupancy_pct)  # fmt: skip


def series_setting(s: Settings) -> dict[str, frozenset[str]]:
    return anomaly_series(s.quality_anomaly_series)
