"""The committed commune layer: complete, inside Hai Phong, small, and carrying its provenance."""

import json
from importlib import resources

from ioc_dashboard import geo

LON_RANGE = (106.1, 107.8)
LAT_RANGE = (20.1, 21.3)


def _collection(name: str) -> dict:
    return json.loads(resources.files("devices.data").joinpath(name).read_text(encoding="utf-8"))


def test_all_114_communes_load_with_unique_codes():
    communes = geo.communes()
    assert len(communes) == 114
    assert len({c.code for c in communes}) == 114
    assert {c.kind for c in communes} == {"xã", "phường", "đặc khu"}


def test_vietnamese_names_keep_their_diacritics():
    names = {c.name for c in geo.communes()}
    assert {"Phường Hồng Bàng", "Phường Lê Chân", "Đặc khu Bạch Long Vĩ"} <= names


def test_centroids_lie_inside_hai_phong():
    for commune in geo.communes():
        assert LON_RANGE[0] <= commune.lon <= LON_RANGE[1], commune
        assert LAT_RANGE[0] <= commune.lat <= LAT_RANGE[1], commune


def test_every_boundary_vertex_lies_inside_hai_phong():
    for lines in (geo.commune_lines(), geo.outline_lines()):
        lons = [x for x in lines.lons if x is not None]
        lats = [y for y in lines.lats if y is not None]
        assert LON_RANGE[0] <= min(lons) and max(lons) <= LON_RANGE[1]
        assert LAT_RANGE[0] <= min(lats) and max(lats) <= LAT_RANGE[1]


def test_boundary_lines_break_once_after_every_ring():
    lines = geo.commune_lines()
    assert len(lines.lons) == len(lines.lats)
    assert lines.ring_count >= 114
    assert lines.lons.count(None) == lines.ring_count
    assert lines.lons[-1] is None


def test_loading_is_cached():
    assert geo.commune_lines() is geo.commune_lines()
    assert geo.communes() is geo.communes()


def test_commune_file_keeps_only_the_documented_properties():
    collection = _collection("communes.geojson")
    for feature in collection["features"]:
        assert set(feature["properties"]) == {"code", "name", "kind", "lat", "lon"}
        assert feature["geometry"]["type"] == "MultiPolygon"


def test_generated_files_say_where_they_come_from_and_under_which_licence():
    for name in ("communes.geojson", "city_outline.geojson"):
        collection = _collection(name)
        assert collection["generated_by"] == "scripts/simplify_geo.py"
        assert "thanglequoc/vietnamese-provinces-database" in collection["source"]
        assert "MIT" in collection["licence"]


def test_commune_layer_is_small_enough_to_send_to_every_wall():
    size = len(resources.files("devices.data").joinpath("communes.geojson").read_bytes())
    assert 150_000 <= size <= 300_000
