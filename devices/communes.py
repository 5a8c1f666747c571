"""The 114 commune-level units of Hai Phong (since 1 July 2025), for tagging devices by place.

Devices are registered with a commune code because the district level was abolished and commune
People's Committees consume the data for their area. The table is package data
(``devices/data/communes.csv``, built by ``scripts/build_communes.py``; sources and licences in
``devices/data/SOURCES.md``) so the product runs without the shared data directory.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from devices._textfold import name_key

__all__ = [
    "COMMUNES_CSV",
    "Commune",
    "CommuneKind",
    "commune_by_code",
    "commune_by_name",
    "load_communes",
]

COMMUNES_CSV = Path(__file__).resolve().parent / "data" / "communes.csv"


class CommuneKind(StrEnum):
    """Commune-level unit types; the values are the ASCII codes used in the data files."""

    PHUONG = "phuong"  # phường: urban ward
    XA = "xa"  # xã: rural commune
    DAC_KHU = "dac_khu"  # đặc khu: island special zone (Cát Hải, Bạch Long Vĩ)


@dataclass(frozen=True, slots=True)
class Commune:
    """One unit; ``code`` is the national 5-digit ``ma_xa``, the key other systems share."""

    code: str
    no: int  # position in NQ 1669/NQ-UBTVQH15, the order official reports list communes in
    kind: CommuneKind
    name: str
    full_name: str
    lat: float  # polygon centroid, WGS84; for island units it may fall in the sea
    lon: float
    area_km2: float


@functools.cache
def load_communes() -> tuple[Commune, ...]:
    """All communes in NQ order; read once per process."""
    with COMMUNES_CSV.open(encoding="utf-8", newline="") as handle:
        return tuple(
            Commune(
                code=row["code"],
                no=int(row["no"]),
                kind=CommuneKind(row["kind"]),
                name=row["name"],
                full_name=row["full_name"],
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                area_km2=float(row["area_km2"]),
            )
            for row in csv.DictReader(handle)
        )


@functools.cache
def _by_code() -> MappingProxyType[str, Commune]:
    return MappingProxyType({commune.code: commune for commune in load_communes()})


@functools.cache
def _by_name() -> MappingProxyType[str, Commune]:
    # Short names are unique across the city, so both "An Dương" and "Phường An Dương" resolve.
    index: dict[str, Commune] = {}
    for commune in load_communes():
        index[name_key(commune.full_name)] = commune
        index[name_key(commune.name)] = commune
    return MappingProxyType(index)


def commune_by_code(code: str) -> Commune:
    """The commune with this ``ma_xa``; KeyError says what a valid code looks like."""
    try:
        return _by_code()[code.strip()]
    except KeyError:
        raise KeyError(
            f"no Hai Phong commune has code {code!r} (expected a 5-digit ma_xa such as '11560')"
        ) from None


def commune_by_name(name: str) -> Commune:
    """Find by short or full name, tolerating NFC/NFD, case and old-style tone placement."""
    try:
        return _by_name()[name_key(name)]
    except KeyError:
        raise KeyError(
            f"no Hai Phong commune is named {name!r} (diacritics matter: "
            "'Cẩm Giàng' and 'Cẩm Giang' are different communes)"
        ) from None
