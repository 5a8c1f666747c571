"""Devices as NGSI-LD entities of the Smart Data Models, built from the registry and the
latest values (entities) or the raw readings (temporal representation).

Kinds with a Smart Data Model of their own map to it (air quality, traffic flow, street
lights, water levels); every other kind is a ``Device``. Metric names that the model defines
under another name are renamed (``humidity`` -> ``relativeHumidity``); the rest keep the
profile's name, defined in our local ``@context`` under the ``ioc:`` prefix.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Final

from psycopg import Connection

from devices.profiles import load_profiles
from ioc_api.ngsi.units import unit_code
from ioc_api.services.telemetry import LatestValue, latest_values
from ioc_core.db import fetch_all

TYPES: Final[dict[str, str]] = {
    "air_quality_station": "AirQualityObserved",
    "traffic_camera": "TrafficFlowObserved",
    "street_light": "Streetlight",
    "water_level_gauge": "WaterObserved",
}
DEFAULT_TYPE: Final = "Device"
RENAMES: Final[dict[str, dict[str, str]]] = {
    "air_quality_station": {"humidity": "relativeHumidity", "pressure": "atmosphericPressure"},
    "weather_station": {
        "humidity": "relativeHumidity",
        "pressure": "atmosphericPressure",
        "rain": "precipitation",
        "wind_speed": "windSpeed",
        "wind_direction": "windDirection",
    },
    "water_level_gauge": {"water_level": "height"},
    "street_light": {"state": "powerState", "dim_level": "illuminanceLevel"},
}
URN: Final = re.compile(r"^urn:ngsi-ld:([A-Za-z]+):([a-z0-9][a-z0-9_-]{0,63})$")
Q_TERM: Final = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(==|!=|>=|<=|>|<)(-?[0-9.eE+-]+)$")


class NgsiQueryError(ValueError):
    """A query parameter NGSI-LD clients may send but this one cannot read."""


def type_of(kind: str) -> str:
    return TYPES.get(kind, DEFAULT_TYPE)


def kinds_of(entity_type: str) -> list[str]:
    kinds = sorted(load_profiles())
    if entity_type == DEFAULT_TYPE:
        return [k for k in kinds if k not in TYPES]
    return [k for k in kinds if TYPES.get(k) == entity_type]


def attribute(kind: str, metric: str) -> str:
    return RENAMES.get(kind, {}).get(metric, metric)


def entity_id(kind: str, device_id: str) -> str:
    return f"urn:ngsi-ld:{type_of(kind)}:{device_id}"


@cache
def context_document() -> dict[str, Any]:
    """The local ``@context``: the base terms, plus every profile metric not in the SDM list."""
    base = json.loads(resources.files("ioc_api.ngsi").joinpath("context.json").read_text())
    terms: dict[str, Any] = base["@context"]
    for profile in load_profiles().values():
        for metric in profile.metrics:
            name = attribute(profile.kind, metric.name)
            terms.setdefault(name, f"ioc:{name}")
    return base


def _property(value: float, observed: datetime, unit: str) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": "Property", "value": value,
                            "observedAt": observed.isoformat().replace("+00:00", "Z")}  # fmt: skip
    code = unit_code(unit)
    if code:
        prop["unitCode"] = code
    return prop


def parse_q(q: str | None) -> list[tuple[str, str, float]]:
    """``attr op number`` terms joined by ``;`` (AND): the subset of NGSI-LD q we serve."""
    if not q:
        return []
    terms = []
    for part in q.split(";"):
        match = Q_TERM.match(part.strip())
        if match is None:
            raise NgsiQueryError(f"q term {part!r}: expected attribute, one of == != > < >= <=, "
                                 "and a number")  # fmt: skip
        try:
            terms.append((match[1], match[2], float(match[3])))
        except ValueError as exc:
            raise NgsiQueryError(f"q term {part!r}: {match[3]!r} is not a number") from exc
    return terms


_OPS = {"==": float.__eq__, "!=": float.__ne__, ">": float.__gt__, "<": float.__lt__,
        ">=": float.__ge__, "<=": float.__le__}  # fmt: skip


def _matches(entity: dict[str, Any], terms: list[tuple[str, str, float]]) -> bool:
    for name, op, number in terms:
        prop = entity.get(name)
        if not isinstance(prop, dict) or not isinstance(prop.get("value"), int | float):
            return False
        if not _OPS[op](float(prop["value"]), number):
            return False
    return True


def _devices(conn: Connection, *, tenant: str | None, kinds: list[str] | None,
             ids: list[str] | None) -> list[tuple[Any, ...]]:  # fmt: skip
    return fetch_all(
        conn,
        """SELECT d.id, d.kind, d.tenant_id, d.lat, d.lon, d.address, c.name, d.commune_code
           FROM devices d LEFT JOIN communes c ON c.code = d.commune_code
           WHERE d.retired_at IS NULL
             AND (%(tenant)s::text IS NULL OR d.tenant_id = %(tenant)s)
             AND (%(kinds)s::text[] IS NULL OR d.kind = ANY(%(kinds)s))
             AND (%(ids)s::text[] IS NULL OR d.id = ANY(%(ids)s))
           ORDER BY d.id""",
        {"tenant": tenant, "kinds": kinds, "ids": ids},
    )


def _skeleton(row: tuple[Any, ...]) -> dict[str, Any]:
    device_id, kind, tenant, lat, lon, address, commune_name, _commune_code = row
    entity: dict[str, Any] = {"id": entity_id(kind, device_id), "type": type_of(kind)}
    if lat is not None and lon is not None:
        entity["location"] = {"type": "GeoProperty",
                              "value": {"type": "Point", "coordinates": [lon, lat]}}  # fmt: skip
    if commune_name:
        entity["areaServed"] = {"type": "Property", "value": commune_name}
    if address:
        entity["address"] = {"type": "Property", "value": {"streetAddress": address}}
    entity["dataProvider"] = {"type": "Property", "value": tenant}
    entity["deviceCategory"] = {"type": "Property", "value": kind}
    return entity


def resolve_ids(ids: list[str]) -> list[str]:
    """Device ids of entity URNs; a URN that is not ours is an error naming it."""
    devices = []
    for urn in ids:
        match = URN.match(urn)
        if match is None:
            raise NgsiQueryError(f"id {urn!r} is not urn:ngsi-ld:<Type>:<device id>")
        devices.append(match[2])
    return devices


def query_entities(
    conn: Connection, *, tenant: str | None, types: list[str], ids: list[str], q: str | None,
    attrs: list[str], limit: int, offset: int,
) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
    """One page of entities in id order, and how many match in all."""
    terms = parse_q(q)
    kinds = sorted({k for t in types for k in kinds_of(t)}) if types else None
    rows = _devices(conn, tenant=tenant, kinds=kinds, ids=resolve_ids(ids) if ids else None)
    if ids:  # an id whose type does not match its kind names nothing
        wanted = set(ids)
        rows = [r for r in rows if entity_id(r[1], r[0]) in wanted]
    latest: dict[str, list[LatestValue]] = {}
    page_rows = rows if terms else rows[offset : offset + limit]
    wanted_ids = {r[0] for r in page_rows}
    for value in latest_values(conn, tenant=tenant):
        if value.device_id in wanted_ids:
            latest.setdefault(value.device_id, []).append(value)
    entities = []
    for row in page_rows:
        entity = _skeleton(row)
        for value in latest.get(row[0], []):
            name = attribute(value.kind, value.metric)
            if not attrs or name in attrs:
                entity[name] = _property(value.value, value.time, value.unit)
        entities.append(entity)
    if terms:
        entities = [e for e in entities if _matches(e, terms)]
        return entities[offset : offset + limit], len(entities)
    return entities, len(rows)


def temporal_entities(
    conn: Connection, *, tenant: str | None, types: list[str], ids: list[str],
    attrs: list[str], since: datetime | None, until: datetime | None, last_n: int,
    limit: int, offset: int,
) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
    """Entities with each attribute's readings in [since, until) as arrays of instances
    (newest ``last_n`` per attribute, oldest first), from raw telemetry."""
    kinds = sorted({k for t in types for k in kinds_of(t)}) if types else None
    rows = _devices(conn, tenant=tenant, kinds=kinds, ids=resolve_ids(ids) if ids else None)
    if ids:
        rows = [r for r in rows if entity_id(r[1], r[0]) in set(ids)]
    entities = []
    for row in rows[offset : offset + limit]:
        entity = _skeleton(row)
        series = fetch_all(
            conn,
            """SELECT m.name, m.unit, p.time, p.value
               FROM devices d JOIN metrics m ON m.kind = d.kind
               CROSS JOIN LATERAL (
                   SELECT time, value FROM telemetry t
                   WHERE t.device_key = d.key AND t.metric_id = m.id
                     AND t.time >= coalesce(%(since)s, '-infinity'::timestamptz)
                     AND t.time < coalesce(%(until)s, 'infinity'::timestamptz)
                   ORDER BY t.time DESC LIMIT %(n)s) p
               WHERE d.id = %(id)s ORDER BY m.id, p.time""",
            {"id": row[0], "since": since, "until": until, "n": last_n},
        )
        for name, unit, time, value in series:
            attr = attribute(row[1], name)
            if not attrs or attr in attrs:
                entity.setdefault(attr, []).append(_property(value, time, unit))
        entities.append(entity)
    return entities, len(rows)
