"""The curated UCUM unit set."""

from __future__ import annotations

from devices import UNITS, is_known_unit, load_profiles

REQUIRED = [
    "ug/m3",
    "mg/m3",
    "Cel",
    "%",
    "hPa",
    "mm",
    "mm/h",
    "m",
    "cm",
    "m/s",
    "km/h",
    "{vehicle}",
    "{vehicle}/h",
    "1",
    "W",
    "kW",
    "kW.h",
    "V",
    "A",
    "bar",
    "kPa",
    "m3/h",
    "L/s",
    "s",
    "lx",
    "deg",
    "Hz",
    "dB",
    "{count}",
]


def test_the_required_codes_are_known_and_explained() -> None:
    for code in REQUIRED:
        assert is_known_unit(code), code
        assert UNITS[code].code == code
        assert UNITS[code].meaning


def test_codes_are_case_sensitive_like_ucum() -> None:
    assert not is_known_unit("cel")
    assert not is_known_unit("µg/m³")


def test_every_shipped_metric_uses_a_known_unit() -> None:
    for profile in load_profiles().values():
        for metric in profile.metrics:
            assert is_known_unit(metric.unit)
