"""Where a point lies: inside Hai Phong or not, and in which commune, with a river's tolerance."""

from __future__ import annotations

import pytest

from devices.communes import load_communes
from devices.geo import TOLERANCE_M, commune_at, distance_to_city_m, distance_to_commune_m

AN_BIEN = (20.831912, 106.67521)  # centroid of Phường An Biên (11407)
HONG_BANG = (20.868618, 106.655358)  # centroid of Phường Hồng Bàng (11311)


@pytest.mark.parametrize(
    ("lat", "lon", "at_least_km"),
    [
        (21.03, 105.85, 20),  # Hà Nội
        (20.5, 107.2, 10),  # open sea south-east of Cát Bà
        (19.8, 107.5, 30),  # Gulf of Tonkin, far off
        (-20.86, 106.68, 1000),  # the latitude's sign lost
    ],
)
def test_points_outside_the_city_are_kilometres_away(lat, lon, at_least_km):
    assert distance_to_city_m(lat, lon) > at_least_km * 1000
    assert commune_at(lat, lon) is None


def test_bach_long_vi_island_is_in_the_city_and_its_own_special_zone():
    assert distance_to_city_m(20.13, 107.73) == 0
    found = commune_at(20.13, 107.73)
    assert found is not None and found.code == "11948" and found.distance_m == 0


def test_commune_centroids_fall_in_their_own_commune():
    # Centroids of concave shapes may lie outside them (one does: Xã Thượng Hồng); the rest
    # must come back as their own commune, which checks codes and shapes are aligned.
    wrong = [c.code for c in load_communes() if (m := commune_at(c.lat, c.lon)) is None
             or m.code != c.code]  # fmt: skip
    assert len(wrong) <= 2, wrong


def test_a_point_in_a_gap_between_communes_is_matched_within_the_tolerance():
    # On the simplified outline but in no commune polygon: a river or estuary gap.
    found = commune_at(20.72, 107.05)
    assert found is not None and found.code == "11914" and 0 < found.distance_m < TOLERANCE_M
    assert distance_to_city_m(20.72, 107.05) == 0


def test_distance_to_a_stated_commune():
    assert distance_to_commune_m("11407", *AN_BIEN) == 0
    apart = distance_to_commune_m("11407", *HONG_BANG)
    assert 1_000 < apart < 10_000
    with pytest.raises(KeyError):
        distance_to_commune_m("99999", *AN_BIEN)
