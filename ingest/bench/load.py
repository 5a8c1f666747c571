"""Load generator: simulated air-quality stations publishing QoS 1 telemetry, at a rate or flat out.

Each message carries six metrics and a timestamp taken when it is published (strictly
increasing per device, so every message is a distinct reading), which is also what ingest
measures its publish -> commit lag against. A message counts as published once the broker
has acknowledged it (PUBACK); the run ends only when every sent message is acknowledged.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.bench.wire import Connection, publish_qos1, topic_field

METRICS_PER_MESSAGE = 6
_WINDOW = 4_000  # unacknowledged publishes in flight; enough to keep the socket busy
_CHUNK = 200  # packets per send()
# Pause when the rate allows nothing more yet. At 10,000 msg/s a wake-up then sends ~50
# messages in one write rather than ~5 (0.5 ms): the generator's CPU fell from 21 to 8 us a
# message, and it shares the cores with what it loads. 5 ms of burstiness is nothing to a
# broker, and each message still carries its own send time.
_IDLE_S = 0.005


@dataclass(frozen=True)
class LoadResult:
    published: int
    first_at: float
    last_at: float


# Metric sets drawn once and reused in turn: the generator shares the cores with the system it
# loads, and drawing six values per message was half of its CPU. A prime count, so a device
# (every len(device_ids)-th message) does not keep getting the same set.
_POOL = 4_099


def _metric_pool(rng: random.Random) -> list[str]:
    pool = []
    for _ in range(_POOL):
        pm25 = round(rng.uniform(5, 150), 1)
        pool.append(
            f'{{"pm25":{pm25},"pm10":{round(pm25 * 1.6, 1)},'
            f'"no2":{round(rng.uniform(5, 120), 1)},"so2":{round(rng.uniform(1, 40), 1)},'
            f'"co":{round(rng.uniform(300, 3000))},"o3":{round(rng.uniform(5, 180), 1)}}}'
        )
    return pool


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _payload(metrics: str, seq: int, stamp: str) -> bytes:
    return f'{{"v":1,"ts":"{stamp}","seq":{seq},"metrics":{metrics}}}'.encode()


def publish_load(
    *,
    host: str,
    port: int,
    tenant: str,
    device_ids: list[str],
    seconds: float,
    rate: float | None,
    client_id: str,
    seed: int = 1,
) -> LoadResult:
    """Publish for ``seconds`` at ``rate`` messages/s (``None``: as fast as the broker takes)."""
    pool = _metric_pool(random.Random(seed))
    conn = Connection(host, port, client_id)
    topics = [topic_field(f"ioc/v1/{tenant}/{d}/telemetry") for d in device_ids]
    last_ts = [0.0] * len(device_ids)
    inflight = 0
    sent = acked = 0
    packet_id = 0
    start = time.time()
    deadline = start + seconds
    first_at = start
    try:
        while True:
            now = time.time()
            if now >= deadline:
                break
            allowed = _WINDOW - inflight
            if rate is not None:
                allowed = min(allowed, int((now - start) * rate) - sent)
            if allowed <= 0:
                acks = len(conn.read_pubacks())
                acked += acks
                inflight -= acks
                if not acks:
                    time.sleep(_IDLE_S)
                continue
            chunk = []
            stamps: dict[float, str] = {}  # a chunk's messages mostly share one clock reading
            for _ in range(min(allowed, _CHUNK)):
                i = sent % len(device_ids)
                ts = max(now, last_ts[i] + 1e-6)
                last_ts[i] = ts
                packet_id = packet_id % 65535 + 1
                stamp = stamps.get(ts)
                if stamp is None:
                    stamp = stamps[ts] = _stamp(ts)
                payload = _payload(pool[sent % _POOL], sent, stamp)
                chunk.append(publish_qos1(topics[i], packet_id, payload))
                sent += 1
            conn.send(b"".join(chunk))
            inflight += len(chunk)
            acks = len(conn.read_pubacks())
            acked += acks
            inflight -= acks
        last_at = time.time()
        drain_until = time.time() + 30
        while inflight and time.time() < drain_until:
            acks = len(conn.read_pubacks())
            acked += acks
            inflight -= acks
            time.sleep(0.001)
        if inflight:
            raise RuntimeError(f"{inflight} publishes never acknowledged by the broker")
    finally:
        conn.close()
    return LoadResult(published=acked, first_at=first_at, last_at=last_at)
