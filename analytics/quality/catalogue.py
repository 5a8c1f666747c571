"""What the detectors know about metrics: the device profiles, and which series are analog.

Flat-line and spike tests only make sense on quantities that vary continuously. Switches
(state, door_open), commanded levels (dim_level), counts, cumulative meters and quantities
that legitimately sit at zero for hours (rain, a dry drain's flow) hold still or jump by
design, so they are excluded by an allow-list rather than by guessing from the unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from devices.profiles import DeviceProfile, MetricSpec, load_profiles

# kind -> metrics whose stillness is a fault: each varies continuously at the profile's
# resolution (sensor noise, weather, demand), so a long run of identical readings is a frozen
# sensor. Not chlorine (a slow drift that rounds to the same 0.01 mg/L for hours) nor battery
# voltage (flat at night on a charged cell).
FLATLINE_SERIES: Mapping[str, frozenset[str]] = {
    "air_quality_station": frozenset(
        {"pm25", "pm10", "no2", "so2", "co", "o3", "temperature", "humidity", "pressure"}
    ),
    "weather_station": frozenset({"temperature", "humidity", "pressure"}),
    "water_level_gauge": frozenset({"water_level"}),
    "drainage_sensor": frozenset({"level"}),
    "water_supply_sensor": frozenset({"pressure", "flow"}),
    "traffic_camera": frozenset({"occupancy", "mean_speed"}),
}
# kind -> metrics where a lone outlier is a fault. Traffic and lighting are left out: their
# steps (a jam forming, a lamp switching) are real and belong to their own detectors.
SPIKE_SERIES: Mapping[str, frozenset[str]] = {
    "air_quality_station": FLATLINE_SERIES["air_quality_station"],
    "weather_station": frozenset({"temperature", "humidity", "pressure", "battery_voltage"}),
    "water_level_gauge": frozenset({"water_level", "battery_voltage"}),
    "drainage_sensor": frozenset({"level"}),
    "water_supply_sensor": frozenset({"pressure", "chlorine_residual"}),
}


def parse_series_list(text: str) -> dict[str, frozenset[str]]:
    """``"kind.metric, kind.metric"`` -> {kind: metrics}; an empty string means none."""
    out: dict[str, set[str]] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        kind, dot, metric = item.partition(".")
        if not dot or not kind or not metric:
            raise ValueError(
                f"series {item!r}: expected kind.metric, e.g. air_quality_station.pm25"
            )
        out.setdefault(kind, set()).add(metric)
    return {kind: frozenset(metrics) for kind, metrics in out.items()}


def series_interest(
    series: Mapping[str, Iterable[str]],
) -> tuple[frozenset[str], frozenset[str]]:
    """The (kinds, metrics) a detector judging ``series`` declares to the engine (the
    Detector protocol's optional ``kinds``/``metrics``): a superset of the pairs it judges."""
    return frozenset(series), frozenset(m for metrics in series.values() for m in metrics)


def format_series_list(series: Mapping[str, Iterable[str]]) -> str:
    return ",".join(
        f"{kind}.{metric}" for kind in sorted(series) for metric in sorted(series[kind])
    )


class Catalogue:
    """Profile look-ups by (kind, metric), cached; unknown kinds and metrics give ``None``."""

    def __init__(self, profiles: Mapping[str, DeviceProfile] | None = None) -> None:
        self._profiles = dict(profiles) if profiles is not None else load_profiles()
        self._specs: dict[tuple[str, str], MetricSpec | None] = {}

    def spec(self, kind: str, metric: str) -> MetricSpec | None:
        key = (kind, metric)
        try:
            return self._specs[key]
        except KeyError:
            profile = self._profiles.get(kind)
            spec = None
            if profile is not None and metric in profile.metric_names:
                spec = profile.metric(metric)
            self._specs[key] = spec
            return spec

    def interval_s(self, kind: str, metric: str) -> int | None:
        spec = self.spec(kind, metric)
        return spec.interval_s if spec is not None else None

    def shortest_interval_s(self, kind: str) -> int | None:
        profile = self._profiles.get(kind)
        if profile is None:
            return None
        return min(m.interval_s for m in profile.metrics)
