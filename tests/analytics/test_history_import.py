"""History import: every row validated, a bad one named by its line, nothing half-imported."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from analytics.cli import app
from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ioc_core.stack.temporary import settings_env

REAL_AIRNOW = Path("/work/shared/data/real/hanoi_usembassy_pm25_hourly_2016-2017.csv")
AIRNOW_HEADER = (
    "Site,Parameter,Date (LT),Year,Month,Day,Hour,NowCast Conc.,AQI,AQI Category,Raw Conc.,"
    "Conc. Unit,Duration,QC Name"
)


@pytest.fixture
def station(conn: psycopg.Connection, db_settings, monkeypatch) -> str:
    ensure_tenant(conn, "sonnmt", "Sở NN&MT")
    upsert_device(conn, DeviceIn(id="aq-hist", kind="air_quality_station", tenant_id="sonnmt",
                                 lat=20.85, lon=106.68))  # fmt: skip
    for key, value in settings_env(db_settings).items():
        monkeypatch.setenv(key, value)
    return "aq-hist"


def rows_of(conn: psycopg.Connection, device: str) -> int:
    return conn.execute(
        "SELECT count(*) FROM telemetry WHERE device_key = (SELECT key FROM devices WHERE id = %s)",
        (device,),
    ).fetchone()[0]


def invoke(*args: str):
    return CliRunner().invoke(app, ["import-history", *args])


def test_long_form_imported_whole_with_touched_hours(tmp_path, conn, station) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        "time,device,metric,value\n"
        "2026-11-01T08:00:00+07:00,aq-hist,pm25,41.5\n"
        "2026-11-01T09:00:00+07:00,aq-hist,pm25,44\n"
        "2026-11-01T09:00:00+07:00,aq-hist,pm10,70\n"
    )
    run = invoke("--input", str(path), "--json")
    assert run.exit_code == 0, run.output
    report = json.loads(run.output.strip().splitlines()[-1])
    assert report["inserted"] == 3 and report["already_present"] == 0
    assert rows_of(conn, station) == 3
    hours = conn.execute("SELECT count(*) FROM telemetry_touched_hours").fetchone()[0]
    assert hours >= 2  # the rollups will fold the history in
    # Again: nothing new, the first values kept (as ingest does with redelivery).
    again = json.loads(invoke("--input", str(path), "--json").output.strip().splitlines()[-1])
    assert again["inserted"] == 0 and again["already_present"] == 3


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ("2026-11-01T10:00:00,aq-hist,pm25,40", "no UTC offset"),
        ("2026-11-01T10:00:00+07:00,aq-nobody,pm25,40", "unknown device 'aq-nobody'"),
        ("2026-11-01T10:00:00+07:00,aq-hist,water_level,40", "not one of a air_quality_station"),
        ("2026-11-01T10:00:00+07:00,aq-hist,pm25,-3", "outside the profile's range"),
        ("2026-11-01T10:00:00+07:00,aq-hist,pm25,abc", "not a number"),
        ("2026-11-01T08:00:00+07:00,aq-hist,pm25,40", "duplicate of line 2"),
    ],
)
def test_bad_row_named_and_nothing_imported(tmp_path, conn, station, bad_row, message) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        "time,device,metric,value\n"
        "2026-11-01T08:00:00+07:00,aq-hist,pm25,41.5\n"
        "2026-11-01T09:00:00+07:00,aq-hist,pm25,44\n"
        f"{bad_row}\n"
        "2026-11-01T11:00:00+07:00,aq-hist,pm25,47\n"
    )
    run = invoke("--input", str(path))
    assert run.exit_code == 1
    assert "line 4" in run.output and message in run.output, run.output
    assert "nothing imported" in run.output
    assert rows_of(conn, station) == 0


def test_airnow_export_imported_in_station_time(tmp_path, conn, station) -> None:
    path = tmp_path / "airnow.csv"
    path.write_text(
        AIRNOW_HEADER + "\n"
        "Hanoi,PM2.5 - Principal,2016-03-13 02:00 AM,2016,03,13,02,80,160,Unhealthy,81.2,UG/M3,"
        "1 Hr,Valid\n"
        "Hanoi,PM2.5 - Principal,2016-03-13 03:00 AM,2016,03,13,03,80,160,Unhealthy,79.0,UG/M3,"
        "1 Hr,Valid\n"
        "Hanoi,PM2.5 - Principal,2016-03-13 03:00 AM,2016,03,13,03,80,160,Unhealthy,77.0,UG/M3,"
        "1 Hr,Valid\n"  # the US daylight-saving repeat: first kept
        "Hanoi,PM2.5 - Principal,2016-03-13 04:00 AM,2016,03,13,04,-999,-999,,-999.0,UG/M3,"
        "1 Hr,Missing\n"
        "Hanoi,PM2.5 - Principal,2016-03-13 05:00 AM,2016,03,13,05,3,10,Good,-1.5,UG/M3,"
        "1 Hr,Valid\n"  # noise around zero
    )
    run = invoke("--input", str(path), "--format", "airnow", "--device", station, "--json")
    assert run.exit_code == 0, run.output
    report = json.loads(run.output.strip().splitlines()[-1])
    assert report["inserted"] == 3
    assert (report["skipped_missing"], report["skipped_duplicate"]) == (1, 1)
    assert report["clamped_negative"] == 1
    assert report["first"] == "2016-03-12T19:00:00+00:00"  # 02:00 in Hanoi (UTC+7)
    stored = conn.execute(
        "SELECT value FROM telemetry WHERE time = '2016-03-12T20:00:00+00:00'"
    ).fetchone()[0]
    assert stored == 79.0


def test_airnow_bad_row_named(tmp_path, conn, station) -> None:
    path = tmp_path / "airnow.csv"
    path.write_text(
        AIRNOW_HEADER + "\n"
        "Hanoi,PM2.5 - Principal,2016-03-13 02:00 AM,2016,03,13,02,80,160,Unhealthy,81.2,UG/M3,"
        "1 Hr,Valid\n"
        "Hanoi,PM2.5 - Principal,13/03/2016 03:00,2016,03,13,03,80,160,Unhealthy,79.0,UG/M3,"
        "1 Hr,Valid\n"
    )
    run = invoke("--input", str(path), "--format", "airnow", "--device", station)
    assert run.exit_code == 1 and "line 3" in run.output and "Date (LT)" in run.output
    assert rows_of(conn, station) == 0


@pytest.mark.slow
@pytest.mark.skipif(not REAL_AIRNOW.exists(), reason="the shared real data is not here")
def test_real_hanoi_series_imports_whole(conn, station) -> None:
    run = invoke("--input", str(REAL_AIRNOW), "--format", "airnow", "--device", station, "--json")
    assert run.exit_code == 0, run.output
    report = json.loads(run.output.strip().splitlines()[-1])
    # 16,995 Valid rows; the two March 03:00 repeats are duplicates of the hour before them.
    assert report["inserted"] == 16_993 == rows_of(conn, station)
    assert report["skipped_duplicate"] == 2
