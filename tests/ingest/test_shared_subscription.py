"""Several workers share the load through an MQTT shared subscription: nothing lost or doubled."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from devices.registry import DeviceIn, upsert_device
from devices.topics import Channel, subscription
from ingest.worker import IngestWorker
from tests.ingest.conftest import RunningWorker, telemetry, wait_for

pytestmark = [pytest.mark.db, pytest.mark.broker]

WORKERS = 3
DEVICES = 10
MESSAGES_PER_DEVICE = 200
METRICS = {"pm25": 12.5, "pm10": 20.0, "o3": 33.0}


def test_three_workers_store_every_reading_exactly_once(
    db_settings, conn, station, tenant, publisher
):
    for n in range(2, DEVICES + 1):
        upsert_device(
            conn, DeviceIn(id=f"aq-{n:03d}", kind="air_quality_station", tenant_id=tenant)
        )
    shared = f"$share/{tenant}/{subscription(Channel.TELEMETRY, tenant=tenant)}"
    running = []
    for i in range(WORKERS):
        w = IngestWorker(db_settings, topic_filter=shared, client_id=f"{tenant}-w{i}")
        stop = threading.Event()
        t = threading.Thread(target=w.run, args=(stop,), daemon=True)
        t.start()
        assert w.subscribed.wait(15)
        running.append(RunningWorker(w, stop, t))
    try:
        start = datetime.now(UTC) - timedelta(minutes=5)
        infos = []
        for k in range(MESSAGES_PER_DEVICE):
            for n in range(1, DEVICES + 1):
                ts = start + timedelta(milliseconds=k)
                infos.append(
                    publisher.publish(
                        f"ioc/v1/{tenant}/aq-{n:03d}/telemetry", telemetry(k, METRICS, ts), qos=1
                    )
                )
        for info in infos:
            info.wait_for_publish(30)
        expected = DEVICES * MESSAGES_PER_DEVICE * len(METRICS)
        assert wait_for(conn, "SELECT count(*) FROM telemetry", expected, timeout=60) == expected
        assert (
            conn.execute(
                "SELECT count(DISTINCT (device_key, metric_id, time)) FROM telemetry"
            ).fetchone()[0]
            == expected
        )
        shares = [r.worker.stats.messages for r in running]
        assert sum(shares) == DEVICES * MESSAGES_PER_DEVICE  # each message went to one worker
        assert all(share > 0 for share in shares), f"a worker got nothing: {shares}"
    finally:
        for r in running:
            r.halt()
