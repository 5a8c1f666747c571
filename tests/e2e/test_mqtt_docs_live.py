"""The copy-and-run examples of docs/mqtt.md, run for real: mosquitto_pub against the test
broker, with ingest storing what they publish. A device maker's first try must work."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from devices.registry import DeviceIn, ensure_tenant, upsert_device
from tests.conftest import REPO
from tests.ingest.conftest import start_worker, wait_for

pytestmark = [pytest.mark.db, pytest.mark.broker]

FENCE = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
DEMO_TENANT = "sonnmt"  # the tenant the demo registers, as the doc says


def test_documented_examples_work_against_the_real_broker(db_settings, conn):
    ensure_tenant(conn, DEMO_TENANT, "Environment")
    for n in range(1, 5):
        upsert_device(conn, DeviceIn(id=f"aq-{n:03d}", kind="air_quality_station",
                                     tenant_id=DEMO_TENANT))  # fmt: skip
    ingest = start_worker(db_settings, DEMO_TENANT, f"ingest-docs-{db_settings.pg_database}")
    try:
        env = {**os.environ, "IOC_MQTT_PORT": str(db_settings.mqtt_port)}
        blocks = FENCE.findall((REPO / "docs" / "mqtt.md").read_text(encoding="utf-8"))
        assert len(blocks) >= 4
        for block in blocks:
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block],
                env=env, capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            assert result.returncode == 0, f"{block}\n{result.stderr}"
        # aq-001: one metric; aq-002: nine; aq-999 is not registered -> a dead letter.
        assert wait_for(conn, "SELECT count(*) FROM telemetry", 10) == 10
        assert wait_for(conn, "SELECT count(*) FROM dead_letters", 1) == 1
        assert conn.execute("SELECT device_id, reason FROM dead_letters").fetchone() == (
            "aq-999",
            "unknown_device",
        )
    finally:
        ingest.halt()
