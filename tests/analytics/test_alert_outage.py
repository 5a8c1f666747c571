"""A database outage while a breach arrives: the engine keeps the finding and the message
unacknowledged, reconnects, and the alert is stored once the database is back."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from analytics.alerts.runner import EngineRunner
from analytics.thresholds import RuleSpec
from analytics.thresholds.service import create_rule
from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ioc_core.stack.postgres import PostgresService
from ioc_core.stack.temporary import temporary_stack

pytestmark = pytest.mark.slow


def test_a_breach_during_a_database_outage_is_stored_after_it(caplog):
    with temporary_stack() as s:
        with psycopg.connect(s.postgres_dsn, autocommit=True) as conn:
            ensure_tenant(conn, "sonnmt", "Sở NN&MT")
            upsert_device(conn, DeviceIn(id="aq-001", kind="air_quality_station",
                                         tenant_id="sonnmt"))  # fmt: skip
            create_rule(
                conn,
                RuleSpec(
                    name="PM2.5",
                    kind="air_quality_station",
                    metric="pm25",
                    scope_type="all",
                    comparison="above",
                    levels={"warning": 100},
                ),
                changed_by="t",
                reason="test",
            )
        # The engine's own outage handling, so it reads the devices' telemetry itself: fed by
        # ingest's stream, it would only hear of the breach once ingest had stored it.
        runner = EngineRunner(s.model_copy(update={"alerts_input": "telemetry"}),
                              client_id=f"alerts-{uuid.uuid4().hex[:8]}")  # fmt: skip
        stop = threading.Event()
        thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
        thread.start()
        assert runner.subscribed.wait(15)
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"p-{uuid.uuid4().hex[:8]}")
        pub.connect(s.mqtt_host, s.mqtt_port)
        pub.loop_start()
        t0 = datetime.now(UTC) - timedelta(minutes=5)

        def send(seq: int, value: float) -> None:
            body = json.dumps({"v": 1, "ts": (t0 + timedelta(seconds=seq)).isoformat(),
                               "seq": seq, "metrics": {"pm25": value}})  # fmt: skip
            pub.publish("ioc/v1/sonnmt/aq-001/telemetry", body, qos=1).wait_for_publish(5)

        database = PostgresService(s)
        try:
            send(1, 20.0)  # the engine learns the device while the database is up
            deadline = time.monotonic() + 15
            while runner.engine is None or runner.engine.stats.readings < 1:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert database.stop()
            send(2, 150.0)
            time.sleep(3)
            assert thread.is_alive()
            database.start()
            deadline = time.monotonic() + 60
            row = None
            while row is None and time.monotonic() < deadline:
                time.sleep(0.5)
                try:
                    with psycopg.connect(s.postgres_dsn) as conn:
                        row = conn.execute("SELECT state, value FROM alerts").fetchone()
                except psycopg.OperationalError:
                    pass
            assert row == ("open", 150.0)
            assert "database unavailable" in caplog.text
        finally:
            stop.set()
            thread.join(timeout=30)
            pub.loop_stop()
