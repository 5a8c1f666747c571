"""Ingest's readings stream: what was committed, exactly, and only once it was committed."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.errors import PayloadError
from devices.readings_stream import (
    RECORD,
    pack_rows,
    readings_filter,
    readings_topic,
    row_times,
    unpack_rows,
)
from tests.ingest.conftest import publish, telemetry, wait_for


def test_rows_survive_packing_exactly() -> None:
    t0 = datetime(2026, 11, 27, 4, 0, 0, 123_457, tzinfo=UTC)
    rows = [(t0, 7, 3, 35.5), (t0, 7, 4, -0.1), (t0 + timedelta(microseconds=1), 2**31 - 1, 1,
                                                 1e300)]  # fmt: skip
    batch = unpack_rows(pack_rows(rows))
    assert batch.dtype == RECORD and len(batch) == 3
    assert list(zip(row_times(batch), batch["k"].tolist(), batch["m"].tolist(),
                    batch["v"].tolist(), strict=True)) == rows  # fmt: skip


def test_a_torn_or_foreign_batch_is_refused_with_the_reason() -> None:
    good = pack_rows([(datetime.now(UTC), 1, 1, 1.0)])
    with pytest.raises(PayloadError, match="multiple of 24"):
        unpack_rows(good[:-1])
    with pytest.raises(PayloadError, match="must start with"):
        unpack_rows(b'{"v": 1}')


def test_the_topic_is_no_device_topic() -> None:
    assert readings_topic("ioc-ingest") == "ioc/v1/_readings/ioc-ingest"
    assert readings_filter() == "ioc/v1/_readings/+"
    with pytest.raises(ValueError, match="not a valid topic segment"):
        readings_topic("Ingest/1")


@pytest.mark.db
@pytest.mark.broker
def test_ingest_publishes_each_committed_batch(
    db_settings, conn, station, worker, publisher, tenant, ingest_client_id
) -> None:
    got: list[np.ndarray] = []
    arrived = threading.Event()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        # Stored before published: the rows must already be in the table when they arrive.
        stored = conn_check.execute("SELECT count(*) FROM telemetry").fetchone()[0]
        got.append(unpack_rows(msg.payload))
        stored_at_arrival.append(stored)
        arrived.set()

    conn_check = psycopg.connect(db_settings.postgres_dsn, autocommit=True)
    stored_at_arrival: list[int] = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"s-{uuid.uuid4().hex[:8]}")
    sub.on_message = on_message
    sub.connect(db_settings.mqtt_host, db_settings.mqtt_port)
    sub.subscribe(readings_topic(ingest_client_id), qos=1)
    sub.loop_start()
    try:
        ts = datetime.now(UTC).replace(microsecond=250_000)
        publish(publisher, f"ioc/v1/{tenant}/aq-001/telemetry",
                telemetry(1, {"pm25": 35.5, "pm10": 60.0}, ts))  # fmt: skip
        # A reading ingest refuses (humidity is not a metric of the station) is not streamed.
        publish(publisher, f"ioc/v1/{tenant}/aq-001/telemetry", telemetry(2, {"rh": 50.0}, ts))
        assert wait_for(conn, "SELECT count(*) FROM dead_letters", 1) == 1
        assert arrived.wait(15)
    finally:
        sub.loop_stop()
        sub.disconnect()
        conn_check.close()
    rows = [r for batch in got for r in zip(row_times(batch), batch["k"].tolist(),
                                            batch["m"].tolist(), batch["v"].tolist(),
                                            strict=True)]  # fmt: skip
    stored = conn.execute(
        "SELECT time, device_key, metric_id, value FROM telemetry ORDER BY metric_id"
    ).fetchall()
    assert sorted(rows, key=lambda r: r[2]) == [tuple(r) for r in stored]
    assert len(rows) == 2 and all(r[0] == ts for r in rows)
    assert stored_at_arrival[0] >= 2
