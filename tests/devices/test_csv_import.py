"""Bulk CSV import: every row checked first, all rows or none, each problem named by line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from devices.cli import app as devices_cli
from devices.csv_import import import_csv
from devices.errors import CsvImportError
from devices.registry import get_device, list_devices

HEADER = "id,kind,tenant,commune,lat,lon,address,install_date,firmware,tags"
GOOD = [
    "aq-001,air_quality_station,sonnmt,An Biên,20.831912,106.67521,1 Điện Biên Phủ,2024-05-01,"
    "2.1,roadside;school",
    "aq-002,air_quality_station,sonnmt,11311,20.868618,106.655358,,,,",
    "aq-003,air_quality_station,sonnmt,,20.13,107.73,Bạch Long Vĩ,,,island",
]


@pytest.fixture
def tenants(conn):
    conn.execute("INSERT INTO tenants (id, name) VALUES ('sonnmt', 'Environment')")


def csv_text(*rows, header=HEADER):
    return "\n".join([header, *rows]) + "\n"


def problems_of(conn, source, **kwargs):
    with pytest.raises(CsvImportError) as exc_info:
        import_csv(conn, source, **kwargs)
    return [(p.line, p.column, p.message) for p in exc_info.value.problems]


def test_a_clean_file_imports_every_row(conn, tenants):
    report = import_csv(conn, csv_text(*GOOD))
    assert (report.created, report.updated) == (3, 0)
    first = get_device(conn, "aq-001")
    assert first.commune_code == "11407" and first.tags == ["roadside", "school"]
    assert str(first.install_date) == "2024-05-01" and first.firmware == "2.1"
    assert get_device(conn, "aq-003").commune_name == "Đặc khu Bạch Long Vĩ"  # derived


def test_one_bad_row_imports_nothing_and_names_the_row(conn, tenants):
    bad = "aq-004,air_quality_station,sonnmt,,21.03,105.85,Hà Nội,,,"
    found = problems_of(conn, csv_text(GOOD[0], GOOD[1], bad, GOOD[2]))
    assert len(found) == 1
    line, column, message = found[0]
    assert (line, column) == (4, "lat/lon") and "outside Hai Phong" in message
    assert list_devices(conn) == []


def test_every_bad_row_is_reported(conn, tenants):
    rows = [
        GOOD[0],
        "aq-002,radon_meter,sonnmt,,20.83,106.67,,,,",  # line 3: kind
        "aq-003,air_quality_station,nobody,,20.83,106.67,,,,",  # line 4: tenant
        "aq-004,air_quality_station,sonnmt,Hồng Bàng,20.831912,106.67521,,,,",  # 5: mismatch
        "aq-005,air_quality_station,sonnmt,,north,106.67,,2024-13-01,,",  # 6: lat and date
        "aq-001,air_quality_station,sonnmt,,20.83,106.67,,,,",  # line 7: duplicate id
        "AQ 7,air_quality_station,sonnmt,,20.83,106.67,,,,",  # line 8: id pattern
        "aq-008,air_quality_station,sonnmt,,20.83",  # line 9: too few values
    ]
    found = problems_of(conn, csv_text(*rows))
    by_line = {}
    for line, column, message in found:
        by_line.setdefault(line, []).append((column, message))
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9]
    assert by_line[3][0][0] == "kind" and "radon_meter" in by_line[3][0][1]
    assert by_line[4][0][0] == "tenant"
    assert by_line[5][0][0] == "commune" and "Phường An Biên" in by_line[5][0][1]
    assert {column for column, _ in by_line[6]} == {"lat", "install_date"}
    assert by_line[7] == [("id", "'aq-001' is also on line 2")]
    assert by_line[8][0][0] == "id"
    assert by_line[9] == [("(row)", "5 values where the header has 10 columns")]
    assert list_devices(conn) == []


def test_utf8_with_bom_as_bytes_and_as_a_file(conn, tenants, tmp_path):
    data = csv_text(*GOOD).encode("utf-8-sig")
    path = tmp_path / "devices.csv"
    path.write_bytes(data.replace(b"aq-00", b"aq-10"))
    assert import_csv(conn, data).created == 3
    assert import_csv(conn, path).created == 3
    assert get_device(conn, "aq-101").address == "1 Điện Biên Phủ"


def test_bytes_that_are_not_utf8_are_refused_with_their_line(conn, tenants):
    data = csv_text(*GOOD).encode("utf-8").replace("Điện".encode(), b"\xd0i\xea\xf2n")
    found = problems_of(conn, data)
    assert found[0][0] == 2 and "not UTF-8" in found[0][2]


def test_unknown_and_missing_columns_are_named(conn, tenants):
    found = problems_of(conn, "id,kind,tenant,lat,adress,colour\n")
    assert [(line, column) for line, column, _ in found] == [(1, "adress"), (1, "colour"),
                                                            (1, "lon")]  # fmt: skip
    assert "unknown column" in found[0][2] and "address" in found[0][2]
    assert problems_of(conn, "")[0][:2] == (1, "(row)")
    assert "separated by ';'" in problems_of(conn, "id;kind;tenant;lat;lon\n")[0][2]


def test_line_numbers_count_blank_lines_and_quoted_newlines(conn, tenants):
    text = csv_text(
        GOOD[0],
        "",
        '"aq-002",air_quality_station,sonnmt,,20.83,106.67,"line one\nline two",,,',
        ",,,,,,,,,",
        "aq-003,weather_stat,sonnmt,,20.83,106.67,,,,",
    )
    found = problems_of(conn, text)  # fmt: skip
    assert [(line, column) for line, column, _ in found] == [(7, "kind")]


def test_registered_ids_are_errors_unless_updating(conn, tenants):
    import_csv(conn, csv_text(*GOOD))
    found = problems_of(conn, csv_text(GOOD[0]))
    assert found == [(2, "id", "'aq-001' is already registered (import with update to change it)")]
    report = import_csv(conn, "id,firmware,tags\naq-001,3.0,\naq-002,3.0,new\n", update=True)
    assert (report.created, report.updated) == (0, 2)
    first = get_device(conn, "aq-001")
    assert (first.firmware, first.tags, first.address) == ("3.0", [], "1 Điện Biên Phủ")
    assert get_device(conn, "aq-002").tags == ["new"]


def test_update_can_mix_new_and_registered_rows(conn, tenants):
    import_csv(conn, csv_text(GOOD[0]))
    report = import_csv(conn, csv_text(GOOD[0].replace(",2.1,", ",2.2,"), GOOD[1]), update=True)
    assert (report.created, report.updated) == (1, 1)
    assert get_device(conn, "aq-001").firmware == "2.2"


def test_gauge_levels_columns(conn, tenants):
    header = "id,kind,tenant,lat,lon,reference_level,alert_level,danger_level"
    good = "wl-001,water_level_gauge,sonnmt,20.831912,106.67521,0,250,400"
    bad = "wl-002,water_level_gauge,sonnmt,20.831912,106.67521,0,400,250"
    wrong_kind = "aq-009,air_quality_station,sonnmt,20.831912,106.67521,0,1,2"
    found = problems_of(conn, csv_text(good, bad, wrong_kind, header=header))
    assert [(line, column) for line, column, _ in found] == [
        (3, "danger_level"), (4, "reference_level/alert_level/danger_level")]  # fmt: skip
    assert import_csv(conn, csv_text(good, header=header)).created == 1
    assert get_device(conn, "wl-001").levels.danger_level == 400


def test_cli_import_prints_each_problem_and_exits_1(conn, db_settings, tenants, tmp_path,
                                                     monkeypatch):  # fmt: skip
    for name, value in {"IOC_PG_HOST": db_settings.pg_host, "IOC_PG_PORT": db_settings.pg_port,
                        "IOC_PG_USER": db_settings.pg_user, "IOC_PG_DATABASE":
                        db_settings.pg_database}.items():  # fmt: skip
        monkeypatch.setenv(name, str(value))
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text(GOOD[0], "aq-002,air_quality_station,sonnmt,,21.03,105.85,,,,"))
    result = CliRunner().invoke(devices_cli, ["import", str(bad)])
    assert result.exit_code == 1
    assert "line 3, column lat/lon: (21.03, 105.85) is outside Hai Phong" in result.output
    assert "nothing imported" in result.output and list_devices(conn) == []
    good = tmp_path / "good.csv"
    good.write_text(csv_text(*GOOD))
    result = CliRunner().invoke(devices_cli, ["import", str(good), "--json"])
    assert result.exit_code == 0 and json.loads(result.output) == {"created": 3, "updated": 0}
    result = CliRunner().invoke(devices_cli, ["update", "aq-001", "--firmware", "9", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["firmware"] == "9"
    result = CliRunner().invoke(devices_cli, ["list", "--commune", "Hồng Bàng", "--json"])
    assert [d["id"] for d in json.loads(result.output)] == ["aq-002"]
    result = CliRunner().invoke(devices_cli, ["delete", "aq-003"])
    assert result.output.strip() == "aq-003: deleted"
    result = CliRunner().invoke(devices_cli, ["show", "aq-003"])
    assert result.exit_code == 1 and "no device with id 'aq-003'" in result.output
