"""What the operations wall asks for on every tick: the map at the zoom shown, and the KPIs.

The wall must stay fluid with 20,000 devices, and a browser that receives 20,000 markers
every five seconds is not fluid (ThingsBoard's users report exactly that). So the map is
aggregated here: the devices in the visible box are binned on a grid of about
:data:`GRID_COLUMNS` columns, and only when few enough remain (:data:`POINT_LIMIT`) are they
sent one by one. Each layer (status, AQI band, alert severity) gives every device a *class*;
a cluster carries its counts per class and the class it is drawn in.

The reads reuse the registry's status rule, the AQI service (``analytics.aqi_store_read``) and
the alerts table; they live in this module, beside the routes, because only the wall needs
them. Everything is filtered by the caller's tenant, like every other listing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, HTTPException, Query
from psycopg import Connection
from psycopg.rows import tuple_row
from pydantic import BaseModel

from analytics.aqi import BANDS, VN_TZ, band_for
from analytics.aqi_store_read import CURRENT_WITHIN, CityAqi, CommuneAqi, city_aqi, commune_aqi
from analytics.aqi_store_read import current_aqi as current_station_aqi
from devices.registry_query import OFFLINE_AFTER_INTERVALS, SILENCE_LIMIT_S_SQL
from ioc_api.auth.principal import Principal
from ioc_api.auth.scope import Reader, tenant_filter
from ioc_api.deps import DbConn

router = APIRouter(tags=["wall"])

Layer = Literal["status", "aqi", "alerts"]
# About this many grid columns across the visible box: ~1,500 clusters at most on a 16:9 view,
# which Plotly's WebGL scatter draws in a few milliseconds, whatever the fleet size.
GRID_COLUMNS: Final = 64
# Below this many devices in view they are sent one by one (clickable, with ids); above it,
# clusters. 4,000 WebGL points redraw well under the 1 s long-task budget on the wall PC.
POINT_LIMIT: Final = 4_000
# Hai Phong with Bạch Long Vĩ; the default view when the wall names no box.
CITY_BBOX: Final = (106.0, 20.0, 107.9, 21.4)
OPEN_STATES: Final = ("open", "acknowledged")
SEVERITIES: Final = ("advisory", "warning", "critical")
LIGHT_KINDS: Final = ("street_light", "lighting_cabinet")


class LayerClass(BaseModel):
    key: str
    colour: str  # "#rrggbb"
    label_vi: str
    label_en: str


class MapPoint(BaseModel):
    id: str
    kind: str
    lat: float
    lon: float
    cls: str


class MapCluster(BaseModel):
    lat: float  # mean position of its members, so a cluster sits where its devices are
    lon: float
    count: int
    cls: str
    counts: dict[str, int]
    bbox: tuple[float, float, float, float]  # members' extent: zoom here to open the cluster


class WallMap(BaseModel):
    layer: Layer
    mode: Literal["points", "clusters"]
    total: int  # devices in the box
    cell_deg: float | None
    classes: list[LayerClass]  # in drawing order, mildest first
    points: list[MapPoint]
    clusters: list[MapCluster]


class Tally(BaseModel):
    online: int = 0
    offline: int = 0
    never_seen: int = 0


class TrafficKpi(BaseModel):
    cameras: int
    vehicles_last_hour: float
    usual_for_hour: float | None  # mean of the same 60 minutes over the previous 7 days
    ratio: float | None


class LightingKpi(BaseModel):
    lights: int
    on: int
    faulty: int
    offline: int
    energy_today_kwh: dict[str, float]  # per kind: cabinets meter circuits, lights themselves


class WallKpis(BaseModel):
    generated_at: datetime
    devices: Tally
    by_kind: dict[str, Tally]
    by_agency: dict[str, Tally]
    alerts_open: dict[str, int]
    aqi: CityAqi
    worst_communes: list[CommuneAqi]
    traffic: TrafficKpi
    lighting: LightingKpi


# --- layers -------------------------------------------------------------------------------

_STATUS = [
    LayerClass(key="online", colour="#2ecc71", label_vi="Trực tuyến", label_en="Online"),
    LayerClass(key="never_seen", colour="#d5d8dc", label_vi="Chưa kết nối", label_en="Never seen"),
    LayerClass(key="offline", colour="#8a949e", label_vi="Mất kết nối", label_en="Offline"),
]
_NONE = {"status": None, "aqi": "none", "alerts": "none"}
_ALERTS = [
    LayerClass(key="none", colour="#2b4a66", label_vi="Không cảnh báo", label_en="No alert"),
    LayerClass(key="advisory", colour="#f1c40f", label_vi="Lưu ý", label_en="Advisory"),
    LayerClass(key="warning", colour="#ff8c1a", label_vi="Cảnh báo", label_en="Warning"),
    LayerClass(key="critical", colour="#ff3b30", label_vi="Nguy hiểm", label_en="Critical"),
]


def _aqi_classes() -> list[LayerClass]:
    none = LayerClass(key="none", colour="#2b4a66", label_vi="Không đo AQI", label_en="No AQI")
    return [none] + [
        LayerClass(
            key=f"aqi{i + 1}",
            colour="#{:02x}{:02x}{:02x}".format(*b.rgb),
            label_vi=f"{b.name_vi} ({b.low}–{b.high})",
            label_en=f"{b.name_en} ({b.low}–{b.high})",
        )
        for i, b in enumerate(BANDS)
    ]


def layer_classes(layer: Layer) -> list[LayerClass]:
    return {"status": _STATUS, "aqi": _aqi_classes(), "alerts": _ALERTS}[layer]


def aqi_class(aqi: int | None) -> str:
    return "none" if aqi is None else f"aqi{BANDS.index(band_for(aqi)) + 1}"


# --- map ----------------------------------------------------------------------------------

_DEVICES_SQL = f"""
SELECT d.id, d.kind, d.lat, d.lon,
       CASE WHEN d.last_seen IS NULL THEN 'never_seen'
            WHEN d.last_seen > now() - make_interval(secs => {SILENCE_LIMIT_S_SQL})
            THEN 'online' ELSE 'offline' END AS status
FROM devices d
WHERE d.retired_at IS NULL AND d.lat IS NOT NULL AND d.lon IS NOT NULL
  AND (%(tenant)s::text IS NULL OR d.tenant_id = %(tenant)s)
  AND (%(kind)s::text IS NULL OR d.kind = %(kind)s)
  AND d.lon BETWEEN %(x0)s AND %(x1)s AND d.lat BETWEEN %(y0)s AND %(y1)s
"""
_AQI_SQL = """
SELECT DISTINCT ON (a.device_key) d.id, a.aqi
FROM aqi_hourly a JOIN devices d ON d.key = a.device_key
WHERE a.hour > now() - %(within)s AND a.aqi IS NOT NULL AND d.retired_at IS NULL
  AND (%(tenant)s::text IS NULL OR d.tenant_id = %(tenant)s)
ORDER BY a.device_key, a.hour DESC
"""
_SEVERITY_SQL = """
SELECT device_id,
       max(CASE severity WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END)
FROM alerts
WHERE state = ANY(%(states)s) AND device_id IS NOT NULL
  AND (%(tenant)s::text IS NULL OR tenant_id = %(tenant)s)
GROUP BY device_id
"""


def _device_classes(
    conn: Connection, layer: Layer, *, tenant: str | None, kind: str | None,
    bbox: tuple[float, float, float, float],
) -> list[tuple[str, str, float, float, str]]:  # fmt: skip
    """(id, kind, lat, lon, class) of every device in the box."""
    x0, y0, x1, y1 = bbox
    params = {"k": OFFLINE_AFTER_INTERVALS, "tenant": tenant, "kind": kind,
              "x0": x0, "x1": x1, "y0": y0, "y1": y1}  # fmt: skip
    cur = conn.cursor(row_factory=tuple_row)
    rows = cur.execute(_DEVICES_SQL, params).fetchall()
    if layer == "status":
        return [(i, k, lat, lon, status) for i, k, lat, lon, status in rows]
    if layer == "aqi":
        values: dict[str, int] = dict(
            cur.execute(_AQI_SQL, {"within": CURRENT_WITHIN, "tenant": tenant})
        )
        return [(i, k, lat, lon, aqi_class(values.get(i))) for i, k, lat, lon, _ in rows]
    worst: dict[str, int] = dict(
        cur.execute(_SEVERITY_SQL, {"states": list(OPEN_STATES), "tenant": tenant})
    )
    return [(i, k, lat, lon, "none" if i not in worst else SEVERITIES[worst[i] - 1])
            for i, k, lat, lon, _ in rows]  # fmt: skip


def _cluster_class(layer: Layer, counts: dict[str, int], order: list[str]) -> str:
    """AQI and alerts: the worst class present (one critical alert must not drown in a crowd).
    Status: the majority, since every large cluster has someone offline."""
    if layer == "status":
        return max(order, key=lambda c: (counts.get(c, 0), -order.index(c)))
    return next(c for c in reversed(order) if counts.get(c, 0) > 0)


def build_map(
    conn: Connection, *, layer: Layer, tenant: str | None, kind: str | None = None,
    bbox: tuple[float, float, float, float] = CITY_BBOX, point_limit: int = POINT_LIMIT,
) -> WallMap:  # fmt: skip
    classes = layer_classes(layer)
    order = [c.key for c in classes]
    devices = _device_classes(conn, layer, tenant=tenant, kind=kind, bbox=bbox)
    if len(devices) <= point_limit:
        points = [MapPoint(id=i, kind=k, lat=lat, lon=lon, cls=c) for i, k, lat, lon, c in devices]
        return WallMap(layer=layer, mode="points", total=len(devices), cell_deg=None,
                       classes=classes, points=points, clusters=[])  # fmt: skip
    cell = (bbox[2] - bbox[0]) / GRID_COLUMNS
    cells: dict[tuple[int, int], list[tuple[float, float, str]]] = defaultdict(list)
    for _, _, lat, lon, cls in devices:
        cells[(math.floor(lon / cell), math.floor(lat / cell))].append((lat, lon, cls))
    clusters = []
    for members in cells.values():
        counts: dict[str, int] = defaultdict(int)
        for _, _, cls in members:
            counts[cls] += 1
        lats = [m[0] for m in members]
        lons = [m[1] for m in members]
        clusters.append(MapCluster(
            lat=sum(lats) / len(lats), lon=sum(lons) / len(lons), count=len(members),
            cls=_cluster_class(layer, counts, order), counts=dict(counts),
            bbox=(min(lons), min(lats), max(lons), max(lats)),
        ))  # fmt: skip
    clusters.sort(key=lambda c: order.index(c.cls))  # worst drawn last, on top
    return WallMap(layer=layer, mode="clusters", total=len(devices), cell_deg=cell,
                   classes=classes, points=[], clusters=clusters)  # fmt: skip


def parse_bbox(text: str | None, zoom: float | None) -> tuple[float, float, float, float]:
    """``lon0,lat0,lon1,lat1``; without one, a box of the city's centre at ``zoom`` (the slippy
    map convention: 360° / 2^zoom wide), or the whole city."""
    if text is None:
        if zoom is None:
            return CITY_BBOX
        half = 180 / 2**zoom
        cx, cy = (CITY_BBOX[0] + CITY_BBOX[2]) / 2, (CITY_BBOX[1] + CITY_BBOX[3]) / 2
        return (cx - half, cy - half * 9 / 16, cx + half, cy + half * 9 / 16)
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise HTTPException(422, f"bbox {text!r}: want lon0,lat0,lon1,lat1 (4 numbers)") from None
    if not (x0 < x1 and y0 < y1) or not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise HTTPException(422, f"bbox {text!r}: lon0 < lon1 and lat0 < lat1 needed")
    return (x0, y0, x1, y1)


@router.get("/wall/map")
def wall_map(
    conn: DbConn,
    principal: Reader,
    layer: Layer = "status",
    bbox: Annotated[str | None, Query(description="lon0,lat0,lon1,lat1 of the view")] = None,
    zoom: Annotated[float | None, Query(ge=0, le=22, description="Used without bbox")] = None,
    kind: str | None = None,
) -> WallMap:
    """Devices in view coloured by ``layer``: one by one up to 4,000, else grid clusters."""
    return build_map(conn, layer=layer, tenant=tenant_filter(principal, None), kind=kind,
                     bbox=parse_bbox(bbox, zoom))  # fmt: skip


# --- KPIs ---------------------------------------------------------------------------------

_TALLY_SQL = f"""
SELECT d.kind, d.tenant_id,
       CASE WHEN d.last_seen IS NULL THEN 'never_seen'
            WHEN d.last_seen > now() - make_interval(secs => {SILENCE_LIMIT_S_SQL})
            THEN 'online' ELSE 'offline' END AS status, count(*)
FROM devices d
WHERE d.retired_at IS NULL AND (%(tenant)s::text IS NULL OR d.tenant_id = %(tenant)s)
GROUP BY 1, 2, 3
"""
_ALERT_COUNTS_SQL = """
SELECT severity, count(*) FROM alerts
WHERE state = ANY(%(states)s) AND (%(tenant)s::text IS NULL OR tenant_id = %(tenant)s)
GROUP BY severity
"""
# Vehicles counted by cameras over the last 60 minutes (raw readings: exact and current).
_TRAFFIC_NOW_SQL = """
SELECT count(DISTINCT d.id), coalesce(sum(t.value), 0)
FROM devices d
LEFT JOIN telemetry t ON t.device_key = d.key AND t.time > now() - interval '1 hour'
     AND t.metric_id IN (SELECT id FROM metrics WHERE kind = 'traffic_camera'
                         AND name LIKE 'count\\_%%')
WHERE d.kind = 'traffic_camera' AND d.retired_at IS NULL
  AND (%(tenant)s::text IS NULL OR d.tenant_id = %(tenant)s)
"""
# The same 60 minutes on each of the previous 7 days, from the hourly rollup: the window spans
# two clock hours, weighted by how much of each it covers. Days with no data do not count.
_TRAFFIC_USUAL_SQL = """
WITH days AS (SELECT generate_series(1, 7) AS k),
     hours AS (SELECT k, date_trunc('hour', now() - interval '1 hour') - k * interval '1 day' AS h0
               FROM days)
SELECT avg(total) FROM (
  SELECT hours.k,
         sum(r.sum * CASE WHEN r.bucket = hours.h0 THEN %(w)s ELSE 1 - %(w)s END) AS total
  FROM hours
  JOIN telemetry_1h r ON r.bucket IN (hours.h0, hours.h0 + interval '1 hour')
  JOIN devices d ON d.key = r.device_key AND d.kind = 'traffic_camera'
  WHERE r.metric_id IN (SELECT id FROM metrics WHERE kind = 'traffic_camera'
                        AND name LIKE 'count\\_%%')
    AND (%(tenant)s::text IS NULL OR d.tenant_id = %(tenant)s)
  GROUP BY hours.k) per_day
"""
# Each light's latest state and fault code of the last day (index probes per device).
_LIGHTS_SQL = f"""
SELECT count(*),
       count(*) FILTER (WHERE s.value >= 0.5),
       count(*) FILTER (WHERE f.value IS NOT NULL AND f.value <> 0),
       count(*) FILTER (WHERE d.last_seen IS NULL OR d.last_seen
                        <= now() - make_interval(secs => {SILENCE_LIMIT_S_SQL}))
FROM devices d
LEFT JOIN LATERAL (SELECT value FROM telemetry t WHERE t.device_key = d.key
     AND t.metric_id = (SELECT id FROM metrics WHERE kind = d.kind AND name = 'state')
     AND t.time > now() - interval '1 day' ORDER BY t.time DESC LIMIT 1) s ON true
LEFT JOIN LATERAL (SELECT value FROM telemetry t WHERE t.device_key = d.key
     AND t.metric_id = (SELECT id FROM metrics WHERE kind = d.kind AND name = 'fault_code')
     AND t.time > now() - interval '1 day' ORDER BY t.time DESC LIMIT 1) f ON true
WHERE d.kind = 'street_light' AND d.retired_at IS NULL
  AND (%(tenant)s::text IS NULL OR d.tenant_id = %(tenant)s)
"""
# Energy is a cumulative meter (profile), so today's use is last minus first reading since
# local midnight, per device.
_ENERGY_SQL = """
SELECT d.kind, coalesce(sum(greatest(l.value - f.value, 0)), 0)
FROM devices d
CROSS JOIN LATERAL (SELECT id FROM metrics WHERE kind = d.kind AND name = 'energy') m
LEFT JOIN LATERAL (SELECT value FROM telemetry t WHERE t.device_key = d.key
     AND t.metric_id = m.id AND t.time >= %(midnight)s ORDER BY t.time LIMIT 1) f ON true
LEFT JOIN LATERAL (SELECT value FROM telemetry t WHERE t.device_key = d.key
     AND t.metric_id = m.id AND t.time >= %(midnight)s ORDER BY t.time DESC LIMIT 1) l ON true
WHERE d.kind = ANY(%(kinds)s) AND d.retired_at IS NULL
  AND (%(tenant)s::text IS NULL OR d.tenant_id = %(tenant)s)
GROUP BY d.kind
"""


def _tallies(
    conn: Connection, tenant: str | None
) -> tuple[Tally, dict[str, Tally], dict[str, Tally]]:
    total = Tally()
    by_kind: dict[str, Tally] = defaultdict(Tally)
    by_agency: dict[str, Tally] = defaultdict(Tally)
    rows = conn.cursor(row_factory=tuple_row).execute(
        _TALLY_SQL, {"k": OFFLINE_AFTER_INTERVALS, "tenant": tenant}
    )
    for kind, agency, status, n in rows:
        for tally in (total, by_kind[kind], by_agency[agency]):
            setattr(tally, status, getattr(tally, status) + n)
    return total, dict(sorted(by_kind.items())), dict(sorted(by_agency.items()))


def _traffic(conn: Connection, tenant: str | None, now: datetime) -> TrafficKpi:
    cur = conn.cursor(row_factory=tuple_row)
    cameras, vehicles = cur.execute(_TRAFFIC_NOW_SQL, {"tenant": tenant}).fetchone() or (0, 0)
    weight = 1 - now.minute / 60  # share of the window in the earlier clock hour
    usual_row = cur.execute(_TRAFFIC_USUAL_SQL, {"tenant": tenant, "w": weight}).fetchone()
    usual = float(usual_row[0]) if usual_row and usual_row[0] is not None else None
    ratio = float(vehicles) / usual if usual else None
    return TrafficKpi(cameras=cameras, vehicles_last_hour=float(vehicles),
                      usual_for_hour=usual, ratio=ratio)  # fmt: skip


def _lighting(conn: Connection, tenant: str | None, now: datetime) -> LightingKpi:
    cur = conn.cursor(row_factory=tuple_row)
    row = cur.execute(_LIGHTS_SQL, {"k": OFFLINE_AFTER_INTERVALS, "tenant": tenant}).fetchone()
    lights, on, faulty, offline = row or (0, 0, 0, 0)
    local = now.astimezone(VN_TZ)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    params: dict[str, Any] = {"midnight": midnight, "kinds": list(LIGHT_KINDS), "tenant": tenant}
    energy = {kind: 0.0 for kind in LIGHT_KINDS}
    energy.update({k: float(v) for k, v in cur.execute(_ENERGY_SQL, params)})
    return LightingKpi(lights=lights, on=on, faulty=faulty, offline=offline,
                       energy_today_kwh=energy)  # fmt: skip


def build_kpis(conn: Connection, *, tenant: str | None, worst: int = 5) -> WallKpis:
    now = datetime.now(UTC)
    total, by_kind, by_agency = _tallies(conn, tenant)
    alerts = dict.fromkeys(SEVERITIES, 0)
    params = {"states": list(OPEN_STATES), "tenant": tenant}
    alerts.update(dict(conn.cursor(row_factory=tuple_row).execute(_ALERT_COUNTS_SQL, params)))
    stations = current_station_aqi(conn, tenant=tenant)
    return WallKpis(
        generated_at=now, devices=total, by_kind=by_kind, by_agency=by_agency,
        alerts_open=alerts, aqi=city_aqi(stations), worst_communes=commune_aqi(stations)[:worst],
        traffic=_traffic(conn, tenant, now), lighting=_lighting(conn, tenant, now),
    )  # fmt: skip


@router.get("/wall/kpis")
def wall_kpis(conn: DbConn, principal: Reader) -> WallKpis:
    """The wall's tiles in one read: devices by kind and agency, open alerts by severity, city
    AQI and the worst communes, traffic against the usual for this hour, lights, energy."""
    return build_kpis(conn, tenant=_scope(principal))


def _scope(principal: Principal) -> str | None:
    return tenant_filter(principal, None)


# --- drill-downs: traffic by camera and class, flood gauges, lighting cabinets ----------------

TRAFFIC_CLASSES: Final = ("motorbike", "car", "bus_truck", "bicycle")
GaugeState = Literal["normal", "alert", "danger", "unknown"]


class CameraTraffic(BaseModel):
    device_id: str
    commune_name: str | None
    by_class: dict[str, float]  # vehicles in the last hour, both directions
    total: float


class GaugeLevel(BaseModel):
    device_id: str
    commune_name: str | None
    water_level: float | None
    time: datetime | None
    alert_level: float | None
    danger_level: float | None
    state: GaugeState


class CabinetState(BaseModel):
    device_id: str
    commune_name: str | None
    status: str
    state: float | None
    dim_level: float | None
    power: float | None
    door_open: float | None
    fault_code: float | None


def _latest(metric: str, alias: str) -> str:
    """A LATERAL join of device ``d``'s latest ``metric`` of the last day: one index probe."""
    return f"""LEFT JOIN LATERAL (SELECT t.value AS {alias}, t.time AS {alias}_time
         FROM telemetry t WHERE t.device_key = d.key
          AND t.metric_id = (SELECT id FROM metrics WHERE kind = d.kind AND name = '{metric}')
          AND t.time > now() - interval '1 day' ORDER BY t.time DESC LIMIT 1) {alias} ON true"""


_CAMERA_SQL = """
SELECT d.id, c.name, m.name, coalesce(sum(t.value), 0)
FROM devices d
LEFT JOIN communes c ON c.code = d.commune_code
JOIN metrics m ON m.kind = d.kind AND m.name LIKE 'count\\_%%'
LEFT JOIN telemetry t ON t.device_key = d.key AND t.metric_id = m.id
     AND t.time > now() - interval '1 hour'
WHERE d.kind = 'traffic_camera' AND d.retired_at IS NULL
  AND (%(tenant)s::text IS NULL OR d.tenant_id = %(tenant)s)
GROUP BY d.id, c.name, m.name
"""
_GAUGE_SQL = f"""
SELECT d.id, c.name, wl.wl, wl.wl_time,
       (d.attributes -> 'levels' ->> 'alert_level')::float8,
       (d.attributes -> 'levels' ->> 'danger_level')::float8
FROM devices d LEFT JOIN communes c ON c.code = d.commune_code
{_latest("water_level", "wl")}
WHERE d.kind = 'water_level_gauge' AND d.retired_at IS NULL
  AND (%(tenant)s::text IS NULL OR d.tenant_id = %(tenant)s)
ORDER BY d.id
"""
_CABINET_SQL = f"""
SELECT d.id, c.name,
       CASE WHEN d.last_seen IS NULL THEN 'never_seen'
            WHEN d.last_seen > now() - make_interval(secs => {SILENCE_LIMIT_S_SQL})
            THEN 'online' ELSE 'offline' END,
       st.st, dl.dl, pw.pw, door.door, fc.fc
FROM devices d LEFT JOIN communes c ON c.code = d.commune_code
{_latest("state", "st")} {_latest("dim_level", "dl")} {_latest("power", "pw")}
{_latest("door_open", "door")} {_latest("fault_code", "fc")}
WHERE d.kind = 'lighting_cabinet' AND d.retired_at IS NULL
  AND (%(tenant)s::text IS NULL OR d.tenant_id = %(tenant)s)
ORDER BY d.id
LIMIT %(limit)s
"""


def camera_traffic(conn: Connection, *, tenant: str | None, limit: int) -> list[CameraTraffic]:
    """Busiest cameras first: vehicles per class over the last hour, in and out added."""
    per: dict[str, CameraTraffic] = {}
    for device_id, commune, metric, value in conn.cursor(row_factory=tuple_row).execute(
        _CAMERA_SQL, {"tenant": tenant}
    ):
        cam = per.setdefault(device_id, CameraTraffic(device_id=device_id, commune_name=commune,
                             by_class=dict.fromkeys(TRAFFIC_CLASSES, 0.0), total=0.0))  # fmt: skip
        cls = metric.removeprefix("count_").rsplit("_", 1)[0]
        if cls in cam.by_class:
            cam.by_class[cls] += float(value)
            cam.total += float(value)
    return sorted(per.values(), key=lambda c: (-c.total, c.device_id))[:limit]


def gauge_state(level: float | None, alert: float | None, danger: float | None) -> GaugeState:
    if level is None:
        return "unknown"
    if danger is not None and level >= danger:
        return "danger"
    if alert is not None and level >= alert:
        return "alert"
    return "normal"


def gauge_levels(conn: Connection, *, tenant: str | None) -> list[GaugeLevel]:
    """Every flood gauge's latest level against its site's alert and danger levels, the most
    threatened first (largest share of its danger level)."""
    rows = conn.cursor(row_factory=tuple_row).execute(_GAUGE_SQL, {"tenant": tenant})
    gauges = [
        GaugeLevel(device_id=i, commune_name=c, water_level=v, time=t, alert_level=a,
                   danger_level=dg, state=gauge_state(v, a, dg))
        for i, c, v, t, a, dg in rows
    ]  # fmt: skip

    def threat(g: GaugeLevel) -> float:
        if g.water_level is None:
            return -math.inf
        return g.water_level / g.danger_level if g.danger_level else 0.0

    return sorted(gauges, key=lambda g: (-threat(g), g.device_id))


def cabinet_states(conn: Connection, *, tenant: str | None, limit: int) -> list[CabinetState]:
    params = {"k": OFFLINE_AFTER_INTERVALS, "tenant": tenant, "limit": limit}
    return [
        CabinetState(
            device_id=i,
            commune_name=c,
            status=s,
            state=st,
            dim_level=dl,
            power=pw,
            door_open=door,
            fault_code=fc,
        )
        for i, c, s, st, dl, pw, door, fc in conn.cursor(row_factory=tuple_row).execute(
            _CABINET_SQL, params
        )
    ]


@router.get("/wall/traffic")
def wall_traffic(
    conn: DbConn, principal: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> list[CameraTraffic]:
    """The busiest cameras of the last hour, vehicles per class."""
    return camera_traffic(conn, tenant=_scope(principal), limit=limit)


@router.get("/wall/gauges")
def wall_gauges(conn: DbConn, principal: Reader) -> list[GaugeLevel]:
    """Flood gauges against their alert and danger levels, most threatened first."""
    return gauge_levels(conn, tenant=_scope(principal))


@router.get("/wall/cabinets")
def wall_cabinets(
    conn: DbConn, principal: Reader, limit: Annotated[int, Query(ge=1, le=2000)] = 200
) -> list[CabinetState]:
    """Lighting cabinets with their latest state, dimming, power, door and fault readings."""
    return cabinet_states(conn, tenant=_scope(principal), limit=limit)
