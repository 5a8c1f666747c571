"""Reading the stored AQI: current per station, history, the commune ranking and the city.

Service functions the API and the wall both call. Summaries take the **maximum**, not the mean:
the AQI is a health warning, and the people living by the worst station are the ones the advice
is for; a mean would let one clean station hide a polluted street. Each summary names the
station that sets it, so an operator can go and look.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from datetime import datetime, timedelta
from functools import cache
from typing import Final, Literal

import orjson
from psycopg import Connection
from psycopg.rows import dict_row, tuple_row
from pydantic import BaseModel

from analytics.aqi import BANDS, Advice, Band, Metric, band_for, day_of

__all__ = ["CURRENT_WITHIN", "AqiHistory", "AqiPoint", "BandCount", "BandOut", "CityAqi",
           "CommuneAqi", "StationAqi", "aqi_history", "city_aqi", "commune_aqi",
           "current_aqi", "current_aqi_json"]  # fmt: skip

# A station's latest hour counts as "current" for this long. Hours are published once the
# rollup has closed them (up to ~1 h + lag after the hour began); a station silent for longer
# is left out rather than letting a stale value lead the city's ranking.
CURRENT_WITHIN: Final = timedelta(hours=3)

Period = Literal["hourly", "daily"]


class AdviceOut(BaseModel):
    vi: str
    en: str


class BandOut(BaseModel):
    name_vi: str
    name_en: str
    colour: str
    rgb: tuple[int, int, int]
    general: AdviceOut
    sensitive: AdviceOut

    @classmethod
    def of(cls, band: Band) -> BandOut:
        def advice(a: Advice) -> AdviceOut:
            return AdviceOut(vi=a.vi, en=a.en)

        return cls(name_vi=band.name_vi, name_en=band.name_en, colour=band.colour,
                   rgb=band.rgb, general=advice(band.general),
                   sensitive=advice(band.sensitive))  # fmt: skip


class StationAqi(BaseModel):
    device_id: str
    tenant_id: str
    commune_code: str | None
    commune_name: str | None
    lat: float | None
    lon: float | None
    hour: datetime  # end of the hour
    aqi: int
    dominant: Metric | None
    sub_indices: dict[Metric, float]
    band: BandOut


class AqiPoint(BaseModel):
    hour: datetime | None = None  # hourly: end of the hour
    date: dt.date | None = None  # daily: the 01:00–00:00 day, Vietnam time
    aqi: int | None
    dominant: Metric | None
    sub_indices: dict[Metric, float]
    colour: str | None


class AqiHistory(BaseModel):
    device_id: str
    period: Period
    points: list[AqiPoint]


class CommuneAqi(BaseModel):
    commune_code: str
    commune_name: str
    aqi: int
    dominant: Metric | None
    device_id: str  # the station that sets the commune's value
    hour: datetime
    stations: int
    band: BandOut


class BandCount(BaseModel):
    name_vi: str
    name_en: str
    colour: str
    communes: int
    stations: int


class CityAqi(BaseModel):
    aqi: int | None  # None when no station has a current AQI
    dominant: Metric | None
    device_id: str | None
    commune_code: str | None
    hour: datetime | None
    band: BandOut | None
    stations: int
    bands: list[BandCount]


_CURRENT_SQL: Final = """
    SELECT DISTINCT ON (a.device_key) d.id AS device_id, d.tenant_id, d.commune_code,
           c.name AS commune_name, d.lat, d.lon, a.hour, a.aqi, a.dominant, a.sub_indices
    FROM aqi_hourly a JOIN devices d ON d.key = a.device_key
    LEFT JOIN communes c ON c.code = d.commune_code
    WHERE a.hour > now() - %(within)s AND a.aqi IS NOT NULL AND d.retired_at IS NULL
      AND (%(tenant)s::text IS NULL OR d.tenant_id = %(tenant)s)
    ORDER BY a.device_key, a.hour DESC"""

# The same rows as JSON, built by PostgreSQL in one value: the wall's AQI map is hundreds of
# stations, and decoding each row in Python then validating a model per station cost ~60 ms
# on a loaded machine against 2 ms of SQL. Each band's JSON is passed in once (``json``, not
# ``jsonb``, so the keys keep StationAqi's order); ``hour`` is written as pydantic writes an
# aware UTC datetime; stations are ordered as :func:`current_aqi` sorts them (code points).
_CURRENT_JSON_SQL: Final = f"""
    WITH current AS ({_CURRENT_SQL}),
         bands AS (SELECT * FROM json_to_recordset(%(bands)s::json) AS b(high int, band json))
    SELECT coalesce(json_agg(json_build_object(
               'device_id', s.device_id, 'tenant_id', s.tenant_id,
               'commune_code', s.commune_code, 'commune_name', s.commune_name,
               'lat', s.lat, 'lon', s.lon,
               'hour', to_char(s.hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                       || CASE WHEN extract(microseconds FROM s.hour)::int %% 1000000 = 0
                               THEN '' ELSE to_char(s.hour AT TIME ZONE 'UTC', '.US') END
                       || 'Z',
               'aqi', s.aqi, 'dominant', s.dominant, 'sub_indices', s.sub_indices,
               'band', (SELECT b.band FROM bands b WHERE s.aqi <= b.high
                        ORDER BY b.high LIMIT 1))
             ORDER BY s.aqi DESC, s.device_id COLLATE "C"), '[]')::text
    FROM current s"""


@cache
def _band_out(band: Band) -> BandOut:
    return BandOut.of(band)


@cache
def _bands_json() -> str:
    return orjson.dumps(
        [{"high": b.high, "band": _band_out(b).model_dump(mode="json")} for b in BANDS]
    ).decode()


def current_aqi(conn: Connection, *, tenant: str | None = None) -> list[StationAqi]:
    """Each active station's latest hourly AQI within :data:`CURRENT_WITHIN`, worst first."""
    rows = conn.cursor(row_factory=dict_row).execute(
        _CURRENT_SQL, {"within": CURRENT_WITHIN, "tenant": tenant}
    )
    stations = [StationAqi(**row, band=_band_out(band_for(row["aqi"]))) for row in rows]
    return sorted(stations, key=lambda s: (-s.aqi, s.device_id))


def current_aqi_json(conn: Connection, *, tenant: str | None = None) -> bytes:
    """:func:`current_aqi` serialised, as ``GET /aqi/current`` answers it: one SQL, no Python
    per station (the map's hot path)."""
    row = (
        conn.cursor(row_factory=tuple_row)
        .execute(
            _CURRENT_JSON_SQL, {"within": CURRENT_WITHIN, "tenant": tenant, "bands": _bands_json()}
        )
        .fetchone()
    )
    return row[0].encode() if row else b"[]"


def aqi_history(
    conn: Connection, *, device_id: str, period: Period, since: datetime, until: datetime
) -> AqiHistory:
    """A station's stored AQI: hour-ends in ``[since, until)``, or the days whose 01:00–00:00
    span meets that range."""
    cur = conn.cursor(row_factory=dict_row)
    if period == "hourly":
        rows = cur.execute(
            """SELECT hour, aqi, dominant, sub_indices FROM aqi_hourly
               WHERE device_key = (SELECT key FROM devices WHERE id = %s)
                 AND hour >= %s AND hour < %s ORDER BY hour""",
            (device_id, since, until),
        ).fetchall()
    else:
        rows = cur.execute(
            """SELECT date, aqi, dominant, sub_indices FROM aqi_daily
               WHERE device_key = (SELECT key FROM devices WHERE id = %s)
                 AND date >= %s AND date <= %s ORDER BY date""",
            (device_id, day_of(since), day_of(until)),
        ).fetchall()
    points = [
        AqiPoint(**row, colour=None if row["aqi"] is None else band_for(row["aqi"]).colour)
        for row in rows
    ]
    return AqiHistory(device_id=device_id, period=period, points=points)


def commune_aqi(stations: list[StationAqi]) -> list[CommuneAqi]:
    """Per commune, the worst current station; worst commune first (the wall's ranking).
    Stations without a commune count for the city only."""
    by_commune: dict[str, list[StationAqi]] = defaultdict(list)
    for station in stations:
        if station.commune_code is not None:
            by_commune[station.commune_code].append(station)
    communes = []
    for code, members in by_commune.items():
        worst = max(members, key=lambda s: (s.aqi, s.hour))
        communes.append(
            CommuneAqi(
                commune_code=code,
                commune_name=worst.commune_name or code,
                aqi=worst.aqi,
                dominant=worst.dominant,
                device_id=worst.device_id,
                hour=worst.hour,
                stations=len(members),
                band=worst.band,
            )
        )
    return sorted(communes, key=lambda c: (-c.aqi, c.commune_code))


def city_aqi(stations: list[StationAqi]) -> CityAqi:
    """The city's worst current station (equal to the worst commune whenever every station has
    a commune), and how many communes and stations are in each band."""
    communes = commune_aqi(stations)
    bands = [
        BandCount(
            name_vi=b.name_vi,
            name_en=b.name_en,
            colour=b.colour,
            communes=sum(band_for(c.aqi) == b for c in communes),
            stations=sum(band_for(s.aqi) == b for s in stations),
        )
        for b in BANDS
    ]
    if not stations:
        return CityAqi(aqi=None, dominant=None, device_id=None, commune_code=None, hour=None,
                       band=None, stations=0, bands=bands)  # fmt: skip
    worst = max(stations, key=lambda s: (s.aqi, s.hour))
    return CityAqi(aqi=worst.aqi, dominant=worst.dominant, device_id=worst.device_id,
                   commune_code=worst.commune_code, hour=worst.hour, band=worst.band,
                   stations=len(stations), bands=bands)  # fmt: skip
