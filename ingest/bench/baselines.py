"""The two yardsticks ingest is measured against, run in their own processes.

- broker only: a paho subscriber that acknowledges and discards, i.e. what the broker and an
  MQTT client alone can move on this machine;
- naive: one INSERT per message with autocommit, i.e. what storing without batching gets.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True)
class ConsumerResult:
    messages: int
    first_at: float
    last_at: float


@dataclass
class _Tally:
    """Messages a baseline consumer handled, and when the first and the last arrived."""

    messages: int = 0
    first_at: float = 0.0
    last_at: float = field(default_factory=time.time)

    def tick(self) -> None:
        now = time.time()
        if not self.messages:
            self.first_at = now
        self.messages += 1
        self.last_at = now

    def result(self) -> ConsumerResult:
        return ConsumerResult(self.messages, self.first_at, self.last_at)


def _subscriber(
    host: str, port: int, topic: str, client_id: str, on_payload: object
) -> mqtt.Client:
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = on_payload  # type: ignore[assignment]
    client.connect(host, port, keepalive=60)
    client.loop_start()
    if not subscribed.wait(10):
        raise RuntimeError("baseline subscriber could not subscribe")
    return client


def _sleep_until(stop_at: float) -> None:
    while time.time() < stop_at:
        time.sleep(0.05)


def discard(host: str, port: int, topic: str, stop_at: float, ready: object) -> ConsumerResult:
    """Runs until ``stop_at``, then until no message for a second (the queue has drained)."""
    tally = _Tally()
    client = _subscriber(host, port, topic, "bench-discard", lambda *_: tally.tick())
    ready.set()  # type: ignore[attr-defined]
    _sleep_until(stop_at)
    while time.time() - tally.last_at < 1.0:
        time.sleep(0.05)
    client.disconnect()
    client.loop_stop()
    return tally.result()


def naive_insert(
    host: str, port: int, topic: str, dsn: str, stop_at: float, ready: object
) -> ConsumerResult:
    """Stops when publishing stops: it cannot drain what it is behind by, which is the point."""
    db = psycopg.connect(dsn, autocommit=True)
    keys: dict[str, int] = dict(db.execute("SELECT id, key FROM devices").fetchall())
    metric_ids: dict[str, int] = dict(
        db.execute("SELECT name, id FROM metrics WHERE kind = 'air_quality_station'").fetchall()
    )
    tally = _Tally()

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
        tally.tick()

    client = _subscriber(host, port, topic, "bench-naive", on_message)
    ready.set()  # type: ignore[attr-defined]
    _sleep_until(stop_at)
    client.disconnect()
    client.loop_stop()
    db.close()
    return tally.result()
