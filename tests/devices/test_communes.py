"""The 114 commune-level units of Hai Phong shipped with the product."""

from __future__ import annotations

import csv
import importlib.util
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from devices import CommuneKind, commune_by_code, commune_by_name, load_communes
from devices.communes import COMMUNES_CSV

REPO = Path(__file__).parents[2]
SHARED_DATA = REPO / ".." / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED_DATA / "haiphong_communes.csv").is_file(), reason="../shared is absent"
)


def test_there_are_114_of_the_right_kinds() -> None:
    communes = load_communes()
    assert len(communes) == 114
    assert Counter(c.kind for c in communes) == {
        CommuneKind.PHUONG: 45,
        CommuneKind.XA: 67,
        CommuneKind.DAC_KHU: 2,
    }
    assert [c.no for c in communes] == list(range(1, 115))


def test_codes_are_unique_five_digit_strings() -> None:
    codes = [c.code for c in load_communes()]
    assert all(len(code) == 5 and code.isdigit() for code in codes)
    assert len(set(codes)) == len(codes)


def test_centroids_lie_in_hai_phong() -> None:
    for commune in load_communes():
        assert 106.1 <= commune.lon <= 107.8, commune
        assert 20.1 <= commune.lat <= 21.3, commune
        assert commune.area_km2 > 0


def test_names_are_nfc_and_full_name_ends_with_name() -> None:
    for commune in load_communes():
        assert unicodedata.is_normalized("NFC", commune.full_name)
        assert commune.full_name.endswith(" " + commune.name)


def test_lookup_by_code() -> None:
    assert commune_by_code("11560").full_name == "Phường Thủy Nguyên"
    with pytest.raises(KeyError, match=r"'99999'.*5-digit ma_xa"):
        commune_by_code("99999")


@pytest.mark.parametrize(
    "query",
    [
        "Phường Thủy Nguyên",
        "Thủy Nguyên",
        unicodedata.normalize("NFD", "Phường Thủy Nguyên"),
        "PHƯỜNG THỦY NGUYÊN",
        "  phường   thủy nguyên ",
        "Phường Thuỷ Nguyên",  # old-style tone placement
    ],
    ids=repr,
)
def test_lookup_by_name_tolerates_normalisation_case_and_tone_placement(query: str) -> None:
    assert commune_by_name(query).code == "11560"


def test_names_differing_only_by_a_tone_are_different_communes() -> None:
    assert commune_by_name("Cẩm Giàng") != commune_by_name("Cẩm Giang")
    with pytest.raises(KeyError, match="diacritics matter"):
        commune_by_name("Cam Giang")


def test_special_zones() -> None:
    zones = {c.name for c in load_communes() if c.kind is CommuneKind.DAC_KHU}
    assert zones == {"Cát Hải", "Bạch Long Vĩ"}


@needs_shared
def test_matches_the_shared_commune_list() -> None:
    with (SHARED_DATA / "haiphong_communes.csv").open(encoding="utf-8", newline="") as handle:
        shared = {int(row["no"]): row for row in csv.DictReader(handle)}
    assert len(shared) == 114
    for commune in load_communes():
        row = shared[commune.no]
        assert commune.kind == row["kind"]
        assert commune.name == unicodedata.normalize("NFC", row["name"])
        assert commune.full_name == unicodedata.normalize("NFC", row["full_name"])


@needs_shared
def test_committed_csv_is_what_the_build_script_writes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "build_communes", REPO / "scripts" / "build_communes.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    output = tmp_path / "communes.csv"
    assert script.main(["--shared-dir", str(SHARED_DATA), "--output", str(output)]) == 0
    assert output.read_bytes() == COMMUNES_CSV.read_bytes()
