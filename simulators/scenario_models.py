"""The scenario file's schema: strict, so a typo is an error naming the key, not a no-op.

A scenario is a fleet, the baseline's knobs (air, weather) and a list of incidents. Incident
types and the alert kinds each must raise are contract C3 (TEAM.md); they are listed in
``EXPECT_KINDS``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simulators.city import KINDS
from simulators.durations import check_anchor, parse_duration

IncidentType = Literal[
    "flatline",
    "spike",
    "out_of_range",
    "drift",
    "dropout",
    "offline",
    "lamp_failure",
    "day_burning",
    "cable_theft",
    "pollution_episode",
    "typhoon",
    "congestion",
    "pm_ratio",
]

EXPECT_KINDS: dict[str, tuple[str, ...]] = {
    "flatline": ("quality_flatline",),
    "spike": ("quality_spike",),
    "out_of_range": ("quality_out_of_range",),
    "drift": ("anomaly", "anomaly_neighbour"),
    "dropout": ("quality_dropout",),
    "offline": ("connectivity",),
    "lamp_failure": ("lamp_failure",),
    "day_burning": ("day_burning",),
    "cable_theft": ("cable_theft",),
    "pollution_episode": ("threshold",),
    "typhoon": ("threshold",),
    "congestion": ("congestion",),
    "pm_ratio": ("quality_pm_ratio",),
}

# The kind an incident type applies to when the file does not say; None: any kind.
DEFAULT_KIND: dict[str, str | None] = {
    "flatline": "air_quality_station",
    "spike": "water_supply_sensor",
    "out_of_range": "drainage_sensor",
    "drift": "air_quality_station",
    "dropout": "weather_station",
    "offline": "water_supply_sensor",
    "lamp_failure": "street_light",
    "day_burning": "lighting_cabinet",
    "cable_theft": "lighting_cabinet",
    "pollution_episode": "air_quality_station",
    "typhoon": "water_level_gauge",
    "congestion": "traffic_camera",
    "pm_ratio": "air_quality_station",
}
ALLOWED_KINDS: dict[str, tuple[str, ...]] = {
    "lamp_failure": ("street_light",),
    "day_burning": ("lighting_cabinet", "street_light"),
    "cable_theft": ("lighting_cabinet",),
    "pollution_episode": ("air_quality_station",),
    "typhoon": ("water_level_gauge",),
    "congestion": ("traffic_camera",),
    "pm_ratio": ("air_quality_station",),
}
# Types whose effect is on one metric, and the metric used when the file does not name one.
DEFAULT_METRIC: dict[str, dict[str, str]] = {
    "flatline": {
        "air_quality_station": "pm25",
        "weather_station": "temperature",
        "water_level_gauge": "water_level",
        "drainage_sensor": "level",
        "water_supply_sensor": "pressure",
        "traffic_camera": "occupancy",
    },
    "spike": {
        "air_quality_station": "temperature",
        "weather_station": "temperature",
        "water_supply_sensor": "pressure",
        "drainage_sensor": "level",
        "water_level_gauge": "battery_voltage",
    },
    "out_of_range": {
        "air_quality_station": "humidity",
        "weather_station": "humidity",
        "drainage_sensor": "level",
        "water_supply_sensor": "pressure",
        "water_level_gauge": "battery_voltage",
    },
    "drift": {
        "air_quality_station": "temperature",
        "weather_station": "temperature",
        "water_supply_sensor": "pressure",
        "drainage_sensor": "level",
    },
}
Duration = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FleetSpec(_Strict):
    """Either a total (composed like the city: ``simulators.city.city_counts``) or counts."""

    devices: int | None = Field(None, ge=8, le=1_000_000)
    counts: dict[str, Annotated[int, Field(ge=0)]] | None = None
    # Reporting interval per kind in seconds, replacing the profile's (short tests, demos).
    intervals: dict[str, Annotated[float, Field(ge=1, le=86_400)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_way(self) -> FleetSpec:
        bad = sorted(set(self.intervals) - set(KINDS))
        if bad:
            raise ValueError(f"intervals: unknown kinds {bad}; known: {', '.join(KINDS)}")
        if (self.devices is None) == (self.counts is None):
            raise ValueError("give either devices (a total) or counts (per kind), not both")
        if self.counts is not None:
            unknown = sorted(set(self.counts) - set(KINDS))
            if unknown:
                raise ValueError(f"unknown kinds {unknown}; known: {', '.join(KINDS)}")
        return self


class AirSpec(_Strict):
    pm25_mean: float | None = Field(None, gt=0, le=300)
    pm25_cap: float | None = Field(None, gt=0, le=1000)
    inversions: bool = True


class WeatherSpec(_Strict):
    rain: bool = True
    rain_scale: float = Field(1.0, ge=0, le=10)


class IncidentSpec(_Strict):
    type: IncidentType
    kind: str | None = None
    devices: list[str] | None = None
    count: int = Field(1, ge=1, le=10_000)
    metric: str | None = None
    at: str | float
    for_: float = Field(alias="for")
    magnitude: float | None = None
    # typhoon only
    surge_cm: float = Field(150.0, ge=0, le=600)
    rain_mm_h: float = Field(60.0, ge=0, le=300)
    wind_m_s: float = Field(33.0, ge=0, le=90)

    @field_validator("at", mode="before")
    @classmethod
    def _anchor(cls, value: object) -> str | float:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError("at must be a duration (e.g. 1h30m) or dusk/dawn +/- a duration")
        return check_anchor(value)

    @field_validator("for_", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError("for must be a duration such as 30m")
        seconds = parse_duration(value)
        if seconds <= 0:
            raise ValueError("for must be longer than 0 s")
        return seconds

    @model_validator(mode="after")
    def _kind_fits(self) -> IncidentSpec:
        kind = self.kind or DEFAULT_KIND[self.type]
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        allowed = ALLOWED_KINDS.get(self.type)
        if allowed and kind not in allowed:
            raise ValueError(f"a {self.type} incident applies to {', '.join(allowed)}, not {kind}")
        if (
            self.type in DEFAULT_METRIC
            and self.metric is None
            and kind not in DEFAULT_METRIC[self.type]
        ):
            raise ValueError(f"name the metric for a {self.type} on a {kind}")
        return self

    @property
    def device_kind(self) -> str:
        return self.kind or DEFAULT_KIND[self.type] or "air_quality_station"


class ScenarioSpec(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    description: str = ""
    duration: float
    fleet: FleetSpec
    air: AirSpec = AirSpec()
    weather: WeatherSpec = WeatherSpec()
    incidents: list[IncidentSpec] = Field(default_factory=list)

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError("duration must be a duration such as 6h")
        seconds = parse_duration(value)
        if not 60 <= seconds <= 6 * 86_400:
            raise ValueError(
                "duration must be between 1 minute and 6 days (ingest keeps 7 days back)"
            )
        return seconds
