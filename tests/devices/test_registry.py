"""The registry's service functions over a real database: create, update, delete, list."""

from __future__ import annotations

import pytest

from devices.errors import DeviceExistsError, DeviceNotFoundError, DeviceValidationError
from devices.registry import (
    DeviceIn,
    DeviceUpdate,
    create_device,
    delete_device,
    get_device,
    list_devices,
    page_devices,
    update_device,
    upsert_device,
)
from devices.registry_models import SiteLevels

AN_BIEN = (20.831912, 106.67521)  # Phường An Biên, 11407
HONG_BANG = (20.868618, 106.655358)  # Phường Hồng Bàng, 11311
BACH_LONG_VI = (20.13, 107.73)


@pytest.fixture
def tenants(conn):
    conn.execute("INSERT INTO tenants (id, name) VALUES ('sonnmt', 'Environment'), "
                 "('soxd', 'Construction')")  # fmt: skip


def gauge(device_id="wl-001", **overrides):
    fields = {"id": device_id, "kind": "water_level_gauge", "tenant_id": "sonnmt",
              "lat": AN_BIEN[0], "lon": AN_BIEN[1]}  # fmt: skip
    return DeviceIn(**{**fields, **overrides})


def station(device_id="aq-001", **overrides):
    return gauge(device_id, **{"kind": "air_quality_station", **overrides})


def problems(exc_info):
    return {p.field: p.message for p in exc_info.value.problems}


def test_create_derives_the_commune_from_the_point(conn, tenants):
    out = create_device(conn, station(address="1 Điện Biên Phủ", tags=["roadside", " "]))
    assert (out.commune_code, out.commune_name) == ("11407", "Phường An Biên")
    assert out.tags == ["roadside"] and out.status == "never_seen" and out.retired_at is None


def test_commune_by_name_or_code(conn, tenants):
    assert create_device(conn, station("aq-1", commune="an biên")).commune_code == "11407"
    assert create_device(conn, station("aq-2", commune_code="11407")).commune_code == "11407"


def test_create_refuses_an_existing_id(conn, tenants):
    create_device(conn, station())
    with pytest.raises(DeviceExistsError, match="aq-001"):
        create_device(conn, station())


def test_unknown_kind_and_tenant_are_reported_together(conn, tenants):
    with pytest.raises(DeviceValidationError) as exc_info:
        create_device(conn, station(kind="radon_meter", tenant_id="nobody"))
    found = problems(exc_info)
    assert "unknown kind 'radon_meter'" in found["kind"] and "air_quality_station" in found["kind"]
    assert "unknown tenant 'nobody'" in found["tenant"] and "sonnmt" in found["tenant"]
    assert list_devices(conn) == []


@pytest.mark.parametrize(("lat", "lon"), [(21.03, 105.85), (19.8, 107.5)])
def test_points_outside_the_city_are_refused(conn, tenants, lat, lon):
    with pytest.raises(DeviceValidationError) as exc_info:
        create_device(conn, station(lat=lat, lon=lon))
    assert "outside Hai Phong" in problems(exc_info)["lat/lon"]


def test_location_is_required(conn, tenants):
    with pytest.raises(DeviceValidationError) as exc_info:
        create_device(conn, station(lat=None, lon=None))
    assert "required" in problems(exc_info)["lat/lon"]


def test_bach_long_vi_island_is_accepted(conn, tenants):
    out = create_device(conn, station(lat=BACH_LONG_VI[0], lon=BACH_LONG_VI[1]))
    assert out.commune_name == "Đặc khu Bạch Long Vĩ"


def test_commune_mismatch_names_the_commune_the_point_is_in(conn, tenants):
    with pytest.raises(DeviceValidationError) as exc_info:
        create_device(conn, station(commune="Hồng Bàng"))
    message = problems(exc_info)["commune"]
    assert "Phường An Biên (11407)" in message and "Phường Hồng Bàng (11311)" in message


def test_a_point_just_across_the_boundary_keeps_the_stated_commune(conn, tenants):
    lat, lon = AN_BIEN
    from devices.geo import commune_at

    while commune_at(lat, lon).code == "11407":  # walk east out of An Biên
        lon += 0.0005
    out = create_device(conn, station(lat=lat, lon=lon + 0.001, commune_code="11407"))
    assert out.commune_code == "11407"


def test_gauge_levels_are_stored_in_the_profile_unit(conn, tenants):
    levels = SiteLevels(reference_level=0, alert_level=250, danger_level=400)
    out = create_device(conn, gauge(levels=levels))
    assert out.levels == SiteLevels(reference_level=0, alert_level=250, danger_level=400, unit="cm")


@pytest.mark.parametrize(
    ("levels", "field", "words"),
    [
        ({"reference_level": 0, "alert_level": 300, "danger_level": 250},
         "levels.danger_level", "must be above alert_level (300 cm)"),
        ({"reference_level": 0, "alert_level": 250}, "levels.danger_level", "required"),
        ({"reference_level": 0, "alert_level": 2.5, "danger_level": 4, "unit": "m"},
         "levels.unit", "levels are in cm"),
        ({"reference_level": 0, "alert_level": 250, "danger_level": 9000},
         "levels.danger_level", "outside the gauge's range"),
    ],
)  # fmt: skip
def test_gauge_levels_are_checked(conn, tenants, levels, field, words):
    with pytest.raises(DeviceValidationError) as exc_info:
        create_device(conn, gauge(levels=SiteLevels(**levels)))
    assert words in problems(exc_info)[field]


def test_levels_belong_to_gauges_only(conn, tenants):
    levels = SiteLevels(reference_level=0, alert_level=1, danger_level=2)
    with pytest.raises(DeviceValidationError) as exc_info:
        create_device(conn, station(levels=levels))
    assert "no site levels" in problems(exc_info)["levels"]


def test_partial_update_changes_only_what_is_given(conn, tenants):
    levels = SiteLevels(reference_level=0, alert_level=250, danger_level=400)
    create_device(conn, gauge(firmware="1.0", address="Cầu Rào", tags=["river"], levels=levels))
    out = update_device(conn, "wl-001", DeviceUpdate(firmware="1.1", levels={"alert_level": 300}))
    assert (out.firmware, out.address, out.tags, out.commune_code) == ("1.1", "Cầu Rào", ["river"],
                                                                       "11407")  # fmt: skip
    assert (out.levels.alert_level, out.levels.danger_level) == (300, 400)
    cleared = update_device(conn, "wl-001", DeviceUpdate.model_validate({"address": None}))
    assert cleared.address is None and cleared.firmware == "1.1"


def test_moving_a_device_re_derives_its_commune(conn, tenants):
    create_device(conn, station())
    out = update_device(conn, "aq-001", DeviceUpdate(lat=HONG_BANG[0], lon=HONG_BANG[1]))
    assert out.commune_code == "11311"


def test_update_is_validated_as_a_whole(conn, tenants):
    create_device(conn, station())
    with pytest.raises(DeviceValidationError) as exc_info:
        update_device(conn, "aq-001", DeviceUpdate(tenant_id="nobody", kind="weather_station"))
    assert "cannot change" in problems(exc_info)["kind"]
    with pytest.raises(DeviceValidationError) as exc_info:
        update_device(conn, "aq-001", DeviceUpdate(tenant_id="nobody"))
    assert "unknown tenant" in problems(exc_info)["tenant"]
    assert get_device(conn, "aq-001").tenant == "sonnmt"
    with pytest.raises(DeviceNotFoundError):
        update_device(conn, "aq-404", DeviceUpdate(firmware="x"))


def test_delete_removes_a_device_that_never_reported(conn, tenants):
    create_device(conn, station())
    assert delete_device(conn, "aq-001") == "deleted"
    with pytest.raises(DeviceNotFoundError):
        get_device(conn, "aq-001")
    create_device(conn, station())  # the id is free again


def test_delete_retires_a_device_with_telemetry(conn, tenants):
    create_device(conn, station())
    conn.execute("""INSERT INTO telemetry SELECT now(), d.key, m.id, 12.0 FROM devices d, metrics m
                    WHERE d.id = 'aq-001' AND m.kind = d.kind AND m.name = 'pm25'""")
    assert delete_device(conn, "aq-001") == "retired"
    assert delete_device(conn, "aq-001") == "retired"  # idempotent
    assert get_device(conn, "aq-001").retired_at is not None
    assert list_devices(conn) == []
    assert [d.id for d in list_devices(conn, status="retired")] == ["aq-001"]
    assert conn.execute("SELECT count(*) FROM telemetry").fetchone()[0] == 1
    with pytest.raises(DeviceExistsError, match="retired"):
        create_device(conn, station())


def test_filters(conn, tenants):
    create_device(conn, station("aq-1", tags=["roadside"]))
    create_device(conn, station("aq-2", lat=HONG_BANG[0], lon=HONG_BANG[1]))
    create_device(conn, gauge("wl-1", tenant_id="soxd", tags=["river", "roadside"]))
    conn.execute("UPDATE devices SET last_seen = now() WHERE id = 'aq-2'")

    def ids(**filters):
        return [d.id for d in list_devices(conn, **filters)]

    assert ids(kind="air_quality_station") == ["aq-1", "aq-2"]
    assert ids(tenant="soxd") == ["wl-1"]
    assert ids(commune="Phường Hồng Bàng") == ["aq-2"] == ids(commune="11311")
    assert ids(tag="roadside") == ["aq-1", "wl-1"]
    assert ids(status="online") == ["aq-2"]
    assert ids(status="never_seen", tenant="sonnmt") == ["aq-1"]
    with pytest.raises(DeviceValidationError, match="no Hai Phong commune"):
        ids(commune="Atlantis")


def test_paging_over_250_devices(conn, tenants):
    for n in range(250):
        upsert_device(conn, station(f"aq-{n:03d}"))
    seen, after, pages = [], None, 0
    while True:
        page = page_devices(conn, limit=100, after=after)
        assert page.total == 250
        seen += [d.id for d in page.items]
        pages += 1
        if page.next_after is None:
            break
        after = page.next_after
    assert pages == 3 and seen == [f"aq-{n:03d}" for n in range(250)]
    assert page_devices(conn, kind="weather_station").model_dump() == {
        "items": [], "total": 0, "next_after": None}  # fmt: skip


def test_upsert_keeps_attributes_it_does_not_own(conn, tenants):
    upsert_device(conn, station())
    conn.execute("""UPDATE devices SET attributes = '{"vendor": "x"}' WHERE id = 'aq-001'""")
    upsert_device(conn, station(firmware="2"))
    attributes = conn.execute("SELECT attributes FROM devices WHERE id = 'aq-001'").fetchone()[0]
    assert attributes == {"vendor": "x"}
