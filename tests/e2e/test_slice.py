"""The thin slice end to end: simulated stations -> Mosquitto -> ingest -> TimescaleDB -> API."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from ioc_api import create_app
from simulators.air_quality import AirQualityFleet
from tests.conftest import api_key_headers
from tests.ingest.conftest import start_worker, wait_for

pytestmark = [pytest.mark.db, pytest.mark.broker, pytest.mark.slow]


def test_simulated_stations_show_up_online_with_growing_telemetry(db_settings, conn, tenant):
    ingest = start_worker(db_settings, tenant, f"ingest-{tenant}")
    fleet = AirQualityFleet(db_settings, stations=6, interval_s=0.2, tenant=tenant)
    stop = threading.Event()
    fleet.start()
    runner = threading.Thread(target=fleet.run, args=(stop,), daemon=True)
    runner.start()
    try:
        rows = wait_for(conn, "SELECT count(*) FROM telemetry", 6 * 9 * 3)
        assert rows >= 6 * 9 * 3  # 6 stations x 9 metrics x 3 rounds at least
        time.sleep(1)
        assert conn.execute("SELECT count(*) FROM telemetry").fetchone()[0] > rows  # still growing
        with TestClient(create_app(db_settings), headers=api_key_headers(conn)) as api:
            devices = api.get("/devices").json()["items"]
            assert len(devices) == 6
            assert all(d["status"] == "online" for d in devices)
            assert {d["commune_code"] for d in devices} <= {
                r[0] for r in conn.execute("SELECT code FROM communes")
            }
            series = api.get("/devices/aq-003/telemetry", params={"metric": "pm25"}).json()
            assert len(series["points"]) >= 3
            assert all(p["value"] > 0 for p in series["points"])
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 0
    finally:
        stop.set()
        runner.join(10)
        fleet.close()
        ingest.halt()
