"""The two yardsticks ingest is measured against, run in their own processes.

- broker only: a paho subscriber that acknowledges and discards, i.e. what the broker and an
  MQTT client alone can move on this machine;
- naive: one INSERT per message with autocommit, i.e. what storing without batching gets.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True)
class ConsumerResult:
    messages: int
    first_at: float
    last_at: float


def _subscriber(host: str, port: int, topic: str, client_id: str, on_payload: object) -> tuple[
    mqtt.Client, threading.Event
]:  # fmt: skip
    ready = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = on_payload  # type: ignore[assignment]
    client.connect(host, port, keepalive=60)
    client.loop_start()
    if not ready.wait(10):
        raise RuntimeError("baseline subscriber could not subscribe")
    return client, ready


def _run_until(stop_at: float, idle_s: float, counter: list[float]) -> None:
    """Until ``stop_at``, then until no message for ``idle_s`` (the queue has drained)."""
    while time.time() < stop_at:
        time.sleep(0.05)
    while time.time() - counter[2] < idle_s:
        time.sleep(0.05)


def discard(host: str, port: int, topic: str, stop_at: float, ready: object) -> ConsumerResult:
    counter = [0.0, 0.0, time.time()]  # count, first, last

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        now = time.time()
        if not counter[0]:
            counter[1] = now
        counter[0] += 1
        counter[2] = now

    client, _ = _subscriber(host, port, topic, "bench-discard", on_message)
    ready.set()  # type: ignore[attr-defined]
    _run_until(stop_at, 1.0, counter)
    client.disconnect()
    client.loop_stop()
    return ConsumerResult(int(counter[0]), counter[1], counter[2])


def naive_insert(
    host: str, port: int, topic: str, dsn: str, stop_at: float, ready: object
) -> ConsumerResult:
    """Stops when publishing stops: it cannot drain what it is behind by, which is the point."""
    db = psycopg.connect(dsn, autocommit=True)
    keys: dict[str, int] = dict(db.execute("SELECT id, key FROM devices").fetchall())
    metric_ids: dict[str, int] = dict(
        db.execute("SELECT name, id FROM metrics WHERE kind = 'air_quality_station'").fetchall()
    )
    counter = [0.0, 0.0, time.time()]

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        doc = orjson.loads(msg.payload)
        key = keys[msg.topic.split("/")[3]]
        rows = [(doc["ts"], key, metric_ids[n], v) for n, v in doc["metrics"].items()]
        db.execute(
            "INSERT INTO telemetry VALUES "
            + ", ".join(["(%s, %s, %s, %s)"] * len(rows))
            + " ON CONFLICT DO NOTHING",
            [x for row in rows for x in row],
        )
        now = time.time()
        if not counter[0]:
            counter[1] = now
        counter[0] += 1
        counter[2] = now

    client, _ = _subscriber(host, port, topic, "bench-naive", on_message)
    ready.set()  # type: ignore[attr-defined]
    while time.time() < stop_at:
        time.sleep(0.05)
    client.disconnect()
    client.loop_stop()
    db.close()
    return ConsumerResult(int(counter[0]), counter[1], counter[2])
