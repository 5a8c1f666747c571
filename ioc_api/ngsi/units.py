"""UCUM codes of the device profiles as UN/CEFACT Recommendation 20 common codes.

NGSI-LD's ``unitCode`` is a Rec 20 code (the Smart Data Models use them: ``GQ`` for µg/m³,
``CEL`` for °C). A UCUM code with no exact Rec 20 equivalent (vehicles per hour) gets no
``unitCode`` rather than a wrong one; its meaning is then in the attribute's description.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

UNIT_CODES: Final = MappingProxyType({
    "ug/m3": "GQ", "mg/m3": "GP", "mg/L": "M1",
    "Cel": "CEL", "%": "P1", "hPa": "A97", "mm": "MMT", "mm/h": "H67", "m/s": "MTS",
    "deg": "DD", "m": "MTR", "cm": "CMT", "km/h": "KMH",
    "{vehicle}": "C62", "{count}": "C62", "1": "C62",
    "W": "WTT", "kW": "KWT", "kW.h": "KWH", "V": "VLT", "A": "AMP", "Hz": "HTZ",
    "bar": "BAR", "kPa": "KPA", "m3": "MTQ", "m3/h": "MQH", "L/s": "G51",
    "s": "SEC", "lx": "LUX", "dB": "2N",
})  # fmt: skip


def unit_code(ucum: str) -> str | None:
    return UNIT_CODES.get(ucum)
