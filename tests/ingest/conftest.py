"""Ingest fixtures: a registered device of the test's own tenant and a worker on a thread."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.registry import DeviceIn, ensure_tenant, upsert_device
from devices.topics import Channel, subscription
from ingest.worker import IngestWorker
from ioc_core.settings import Settings


@pytest.fixture
def station(conn: psycopg.Connection, tenant: str) -> DeviceIn:
    ensure_tenant(conn, tenant, "Test tenant")
    device = DeviceIn(id="aq-001", kind="air_quality_station", tenant_id=tenant,
                      commune_code="11407", lat=20.83, lon=106.67)  # fmt: skip
    upsert_device(conn, device)
    return device


@dataclass
class RunningWorker:
    worker: IngestWorker
    stop: threading.Event
    thread: threading.Thread

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def start_worker(
    settings: Settings, tenant: str, client_id: str, topic_filter: str | None = None
) -> RunningWorker:
    topic_filter = topic_filter or subscription(Channel.TELEMETRY, tenant=tenant)
    worker = IngestWorker(settings, topic_filter=topic_filter, client_id=client_id)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    assert worker.subscribed.wait(15), "ingest did not subscribe"
    return RunningWorker(worker, stop, thread)


@pytest.fixture
def ingest_client_id() -> str:
    return f"ingest-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def worker(db_settings: Settings, tenant: str, ingest_client_id: str) -> Iterator[RunningWorker]:
    running = start_worker(db_settings, tenant, ingest_client_id)
    yield running
    running.halt()


@pytest.fixture
def publisher(db_settings: Settings) -> Iterator[mqtt.Client]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    client.connect(db_settings.mqtt_host, db_settings.mqtt_port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


def telemetry(seq: int, metrics: dict[str, object], ts: datetime | None = None) -> bytes:
    stamp = (ts or datetime.now(UTC)).isoformat()
    return json.dumps({"v": 1, "ts": stamp, "seq": seq, "metrics": metrics}).encode()


def publish(client: mqtt.Client, topic: str, payload: bytes) -> None:
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(10)
    assert info.is_published()


def wait_for(conn: psycopg.Connection, query: str, expected: int, timeout: float = 15) -> int:
    deadline = time.monotonic() + timeout
    while True:
        (value,) = conn.execute(query).fetchone()
        if value >= expected or time.monotonic() > deadline:
            return value
        time.sleep(0.1)
