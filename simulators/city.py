"""A simulated Hai Phong fleet: every kind of the device catalogue, placed over the 114 units.

Composition follows what the city runs or plans: street lights dominate (~96 % at city scale,
one cabinet per ~40 lights), then water-supply and drainage loggers, traffic cameras on the
freight corridors, weather stations and rain gauges, river and tide gauges, and a few dozen
air-quality stations. Small fleets (tests, scenarios) keep at least a couple of each kind.
Deterministic for a seed: a test, a demo and a benchmark see the same city.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from devices.communes import Commune, CommuneKind
from devices.registry import DeviceIn, SiteLevels
from simulators.signals import (
    AirQualitySignal,
    CabinetSignal,
    DrainageSignal,
    GaugeSignal,
    GaugeSite,
    LightControl,
    Signal,
    StreetLightSignal,
    TrafficSignal,
    WaterSupplySignal,
    WeatherSignal,
)
from simulators.sites import (
    GAUGE_STATIONS,
    commune_of,
    corridor_points,
    jitter,
    weighted_communes,
)

KINDS = (
    "air_quality_station",
    "weather_station",
    "water_level_gauge",
    "drainage_sensor",
    "water_supply_sensor",
    "traffic_camera",
    "lighting_cabinet",
    "street_light",
)
# Reporting interval of each kind: its profile's shortest metric interval.
INTERVAL_S = {
    "air_quality_station": 60.0,
    "weather_station": 60.0,
    "water_level_gauge": 300.0,
    "drainage_sensor": 300.0,
    "water_supply_sensor": 300.0,
    "traffic_camera": 60.0,
    "lighting_cabinet": 300.0,
    "street_light": 900.0,
}
PREFIX = {
    "air_quality_station": "aq",
    "weather_station": "ws",
    "water_level_gauge": "wl",
    "drainage_sensor": "dr",
    "water_supply_sensor": "wsup",
    "traffic_camera": "cam",
    "lighting_cabinet": "cab",
    "street_light": "sl",
}
# Owners, as the profiles' owner hints say: environment, construction, the water company.
TENANTS = {
    "air_quality_station": "sonnmt",
    "weather_station": "sonnmt",
    "water_level_gauge": "sonnmt",
    "drainage_sensor": "sxd",
    "water_supply_sensor": "capnuoc",
    "traffic_camera": "sxd",
    "lighting_cabinet": "sxd",
    "street_light": "sxd",
}
TENANT_NAMES = {
    "sonnmt": "Sở Nông nghiệp và Môi trường Hải Phòng",
    "sxd": "Sở Xây dựng Hải Phòng",
    "capnuoc": "Công ty Cấp nước Hải Phòng",
}
# At city scale: (share of the fleet, cap) for the sensor kinds; lights and cabinets fill up.
_SHARE = {
    "air_quality_station": (0.05, 40),
    "weather_station": (0.03, 30),
    "water_level_gauge": (0.03, 48),
    "drainage_sensor": (0.05, 200),
    "water_supply_sensor": (0.05, 300),
    "traffic_camera": (0.05, 400),
}
LIGHTS_PER_CABINET = 40
INDUSTRIAL = {"Đông Hải", "Hải An", "Nam Triệu", "Đình Vũ", "An Dương", "Kinh Môn"}


def city_counts(total: int) -> dict[str, int]:
    """How many of each kind a fleet of ``total`` devices has (sums to ``total``)."""
    if total < len(KINDS):
        raise ValueError(f"a city fleet needs at least {len(KINDS)} devices, one of each kind")
    counts = {kind: max(1, min(cap, round(total * share))) for kind, (share, cap) in _SHARE.items()}
    rest = total - sum(counts.values())
    counts["lighting_cabinet"] = max(1, round(rest / (LIGHTS_PER_CABINET + 1)))
    counts["street_light"] = rest - counts["lighting_cabinet"]
    return counts


@dataclass
class SimDevice:
    device: DeviceIn
    signal: Signal
    interval_s: float
    control: LightControl | None = None
    cabinet: str | None = None
    gauge: GaugeSite | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.device.id

    @property
    def kind(self) -> str:
        return self.device.kind


def _device(
    kind: str,
    n: int,
    commune: Commune,
    lat: float,
    lon: float,
    address: str,
    width: int = 3,
    levels: dict[str, float] | None = None,
) -> DeviceIn:
    return DeviceIn(
        id=f"{PREFIX[kind]}-{n:0{width}d}",
        kind=kind,
        tenant_id=TENANTS[kind],
        commune_code=commune.code,
        lat=lat,
        lon=lon,
        address=address,
        firmware="sim-2.0",
        tags=["simulated"],
        levels=SiteLevels(**levels) if levels else None,
    )


def build_fleet(counts: dict[str, int], *, seed: int) -> list[SimDevice]:
    """The devices with their signals, in a stable order (kind, then number)."""
    unknown = set(counts) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown device kinds: {', '.join(sorted(unknown))}")
    rng = random.Random(f"fleet-{seed}")
    fleet: list[SimDevice] = []
    fleet += _air(rng, counts.get("air_quality_station", 0), seed)
    fleet += _weather(rng, counts.get("weather_station", 0), seed)
    fleet += _gauges(rng, counts.get("water_level_gauge", 0), seed)
    fleet += _network(rng, "drainage_sensor", counts.get("drainage_sensor", 0), seed)
    fleet += _network(rng, "water_supply_sensor", counts.get("water_supply_sensor", 0), seed)
    fleet += _cameras(rng, counts.get("traffic_camera", 0), seed)
    fleet += _lighting(rng, counts.get("lighting_cabinet", 0), counts.get("street_light", 0), seed)
    return fleet


def _urban(commune: Commune) -> float:
    return {CommuneKind.PHUONG: 1.1, CommuneKind.XA: 0.85, CommuneKind.DAC_KHU: 0.65}[commune.kind]


def _air(rng: random.Random, count: int, seed: int) -> list[SimDevice]:
    out = []
    for i, commune in enumerate(weighted_communes(rng, count), start=1):
        lat, lon = jitter(rng, commune.lat, commune.lon, 400)
        device = _device("air_quality_station", i, commune, lat, lon, commune.full_name)
        signal = AirQualitySignal(
            f"{seed}-{device.id}",
            urban=_urban(commune) * rng.uniform(0.9, 1.1),
            industrial=commune.name in INDUSTRIAL,
        )
        out.append(SimDevice(device, signal, INTERVAL_S[device.kind]))
    return out


def _weather(rng: random.Random, count: int, seed: int) -> list[SimDevice]:
    out = []
    # Spread over the whole territory: every kind of unit, islands first (storms arrive there).
    communes = weighted_communes(rng, max(count, 114))
    islands = [c for c in communes if c.kind == CommuneKind.DAC_KHU]
    picks = (islands + [c for c in communes[::5] if c.kind != CommuneKind.DAC_KHU])[:count]
    picks += communes[: count - len(picks)]
    for i, commune in enumerate(picks, start=1):
        lat, lon = jitter(rng, commune.lat, commune.lon, 500)
        device = _device("weather_station", i, commune, lat, lon, commune.full_name)
        coastal = commune.kind == CommuneKind.DAC_KHU or commune.lat < 20.75
        signal = WeatherSignal(
            f"{seed}-{device.id}", rain_factor=rng.uniform(0.6, 1.4), coastal=coastal
        )
        out.append(SimDevice(device, signal, INTERVAL_S[device.kind]))
    return out


def _gauges(rng: random.Random, count: int, seed: int) -> list[SimDevice]:
    out = []
    for i in range(1, count + 1):
        station = GAUGE_STATIONS[(i - 1) % len(GAUGE_STATIONS)]
        lap = (i - 1) // len(GAUGE_STATIONS)
        lat, lon = jitter(rng, station.lat, station.lon, 150 + 800 * lap)
        commune = commune_of(lat, lon)
        suffix = f" ({lap + 1})" if lap else ""
        levels = station.site.levels()
        device = _device(
            "water_level_gauge",
            i,
            commune,
            lat,
            lon,
            f"Trạm {station.name}{suffix}, {station.water}",
            levels=levels,
        )
        signal = GaugeSignal(f"{seed}-{device.id}", site=station.site)
        out.append(SimDevice(device, signal, INTERVAL_S[device.kind], gauge=station.site))
    return out


def _network(rng: random.Random, kind: str, count: int, seed: int) -> list[SimDevice]:
    out = []
    for i, commune in enumerate(
        weighted_communes(rng, count, islands=kind != "drainage_sensor" or count > 114), start=1
    ):
        lat, lon = jitter(rng, commune.lat, commune.lon, 1200)
        device = _device(kind, i, commune, lat, lon, commune.full_name)
        signal: Signal
        if kind == "drainage_sensor":
            signal = DrainageSignal(
                f"{seed}-{device.id}", pipe_cm=rng.choice((60.0, 80.0, 100.0, 150.0))
            )
        else:
            signal = WaterSupplySignal(f"{seed}-{device.id}", base_m3_h=rng.uniform(40, 400))
        out.append(SimDevice(device, signal, INTERVAL_S[kind]))
    return out


def _cameras(rng: random.Random, count: int, seed: int) -> list[SimDevice]:
    out = []
    for i, (name, port, lat, lon) in enumerate(corridor_points(rng, count), start=1):
        commune = commune_of(lat, lon)
        device = _device(
            "traffic_camera", i, commune, lat, lon, f"{name}, {commune.full_name}", width=4
        )
        signal = TrafficSignal(f"{seed}-{device.id}", capacity=rng.uniform(25, 70), port=port)
        out.append(
            SimDevice(
                device, signal, INTERVAL_S[device.kind], extra={"corridor": name, "port": port}
            )
        )
    return out


def _lighting(rng: random.Random, cabinets: int, lights: int, seed: int) -> list[SimDevice]:
    if lights and not cabinets:
        raise ValueError("street lights need at least one lighting cabinet to hang off")
    out: list[SimDevice] = []
    cabs: list[SimDevice] = []
    per_cab = [lights // cabinets + (1 if k < lights % cabinets else 0) for k in range(cabinets)]
    width = 6 if lights >= 10_000 else 5
    for i, commune in enumerate(weighted_communes(rng, cabinets), start=1):
        lat, lon = jitter(rng, commune.lat, commune.lon, 1500)
        device = _device(
            "lighting_cabinet",
            i,
            commune,
            lat,
            lon,
            commune.full_name,
            width=5 if cabinets >= 1000 else 4,
        )
        control = LightControl()
        rated = rng.choice((60.0, 90.0, 120.0, 150.0))
        signal = CabinetSignal(
            f"{seed}-{device.id}", lights=per_cab[i - 1], rated_w=rated, control=control
        )
        cab = SimDevice(
            device, signal, INTERVAL_S[device.kind], control=control, extra={"rated_w": rated}
        )
        cabs.append(cab)
        out.append(cab)
    n = 0
    for cab, how_many in zip(cabs, per_cab, strict=True):
        for _ in range(how_many):
            n += 1
            lat, lon = jitter(rng, cab.device.lat or 0.0, cab.device.lon or 0.0, 400)
            commune = commune_of(cab.device.lat or 0.0, cab.device.lon or 0.0)
            device = _device(
                "street_light", n, commune, lat, lon, cab.device.address or "", width=width
            )
            control = LightControl(parent=cab.control)
            rated = float(cab.extra["rated_w"])  # type: ignore[arg-type]
            light = StreetLightSignal(f"{seed}-{device.id}", rated_w=rated, control=control)
            out.append(
                SimDevice(device, light, INTERVAL_S[device.kind], control=control, cabinet=cab.id)
            )
    return out
