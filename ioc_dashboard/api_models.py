"""The API's answers as the wall reads them: tolerant of extra keys, strict about what it uses.

They mirror the API contract (routes ``/devices``, ``/wall/*``, ``/aqi/*``, ``/alerts`` of C4,
``/thresholds``, ``/forecasts`` of C5) rather than importing the server's classes, so the wall
stays an ordinary HTTP client that can run on another machine and against a newer API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DeviceStatus = Literal["online", "offline", "never_seen"]
Layer = Literal["status", "aqi", "alerts"]


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Token(Model):
    access_token: str
    expires_in: int


class Me(Model):
    name: str
    role: str
    tenant_id: str | None = None


class Levels(Model):
    alert_level: float | None = None
    danger_level: float | None = None


class DeviceView(Model):
    id: str
    kind: str
    tenant: str | None = None
    commune_code: str | None = None
    commune_name: str | None = None
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    status: DeviceStatus
    last_seen: datetime | None = None
    levels: Levels | None = None


class DeviceList(Model):
    items: list[DeviceView]
    total: int


class TelemetryPoint(Model):
    time: datetime
    value: float


class TelemetrySeries(Model):
    device_id: str
    metric: str
    unit: str | None = None
    points: list[TelemetryPoint]


class LayerClass(Model):
    key: str
    colour: str
    label_vi: str
    label_en: str


class MapPoint(Model):
    id: str
    kind: str
    lat: float
    lon: float
    cls: str


class MapCluster(Model):
    lat: float
    lon: float
    count: int
    cls: str
    counts: dict[str, int]
    bbox: tuple[float, float, float, float]


class WallMap(Model):
    layer: Layer
    mode: Literal["points", "clusters"]
    total: int
    cell_deg: float | None = None
    classes: list[LayerClass]
    points: list[MapPoint]
    clusters: list[MapCluster]


class Tally(Model):
    online: int = 0
    offline: int = 0
    never_seen: int = 0

    @property
    def total(self) -> int:
        return self.online + self.offline + self.never_seen


class Advice(Model):
    vi: str
    en: str


class AqiBand(Model):
    name_vi: str
    name_en: str
    colour: str
    rgb: tuple[int, int, int]
    general: Advice
    sensitive: Advice

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


class CityAqi(Model):
    aqi: int | None = None
    dominant: str | None = None
    device_id: str | None = None
    band: AqiBand | None = None
    stations: int = 0


class CommuneAqi(Model):
    commune_code: str
    commune_name: str
    aqi: int
    dominant: str | None = None
    device_id: str
    stations: int
    band: AqiBand


class TrafficKpi(Model):
    cameras: int
    vehicles_last_hour: float
    usual_for_hour: float | None = None
    ratio: float | None = None


class LightingKpi(Model):
    lights: int
    on: int
    faulty: int
    offline: int
    energy_today_kwh: dict[str, float]


class WallKpis(Model):
    generated_at: datetime
    devices: Tally
    by_kind: dict[str, Tally]
    by_agency: dict[str, Tally]
    alerts_open: dict[str, int]
    aqi: CityAqi
    worst_communes: list[CommuneAqi]
    traffic: TrafficKpi
    lighting: LightingKpi


class CameraTraffic(Model):
    device_id: str
    commune_name: str | None = None
    by_class: dict[str, float]
    total: float


class GaugeLevel(Model):
    device_id: str
    commune_name: str | None = None
    water_level: float | None = None
    time: datetime | None = None
    alert_level: float | None = None
    danger_level: float | None = None
    state: str


class CabinetState(Model):
    device_id: str
    commune_name: str | None = None
    status: str
    state: float | None = None
    dim_level: float | None = None
    power: float | None = None
    door_open: float | None = None
    fault_code: float | None = None


class Alert(Model):
    """Contract C4: the fields the panel shows; the rest is ignored."""

    id: int
    kind: str
    severity: Literal["advisory", "warning", "critical"]
    state: str
    device_id: str | None = None
    tenant_id: str | None = None
    commune_code: str | None = None
    title: str
    reason: str | None = None
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    opened_at: datetime
    updated_at: datetime | None = None
    acknowledged_by: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class AlertPage(Model):
    items: list[Alert]
    next_cursor: str | None = None


class ThresholdRule(Model):
    """A rule as ``GET /thresholds`` returns it; ``levels`` values are numbers or bands."""

    id: int
    version: int
    name: str
    kind: str
    metric: str
    scope_type: str
    scope_value: str | None = None
    comparison: str
    levels: dict[str, Any]
    clear_level: Any = None
    min_duration_s: int = 0
    window: str = "instant"
    active_hours: list[Any] = Field(default_factory=list)
    enabled: bool = True


class Preview(Model):
    """Contract C4 ``POST /thresholds/preview``."""

    days: int
    alerts: int
    by_severity: dict[str, int]
    devices: int


class ForecastPoint(Model):
    time: datetime
    p10: float
    p50: float
    p90: float


class Forecast(Model):
    """Contract C5 ``GET /forecasts``."""

    items: list[ForecastPoint]
    model_version: str | None = None
    issued_at: datetime | None = None


class Command(Model):
    id: str
    name: str
    state: str
