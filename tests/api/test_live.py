"""``GET /live`` over a real socket: alerts from the NOTIFY trigger, latest values from the
sweep, each client seeing only its tenant and what it filtered for."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from datetime import UTC, datetime

import httpx
import pytest

from tests.api.live_server import serve
from tests.api.seed import ALPHA_DEVICE, BRAVO_DEVICE, seed
from tests.conftest import api_key_headers


@pytest.fixture
def server(db_settings, conn):
    seed(conn, db_settings, minutes=5)
    with serve(db_settings) as url:
        yield url


def listen(url: str, headers: dict[str, str], params: dict[str, str] | None = None):
    """Events of the stream, as (event, data) pairs, on a queue filled by a thread."""
    events: queue.Queue = queue.Queue()
    ready = threading.Event()

    def run() -> None:
        with contextlib.suppress(httpx.TransportError):  # the server stops at teardown
            read()

    def read() -> None:
        with httpx.stream("GET", f"{url}/live", headers=headers, params=params,
                          timeout=httpx.Timeout(30, read=None)) as response:  # fmt: skip
            events.put(("status", response.status_code))
            ready.set()
            name = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name:
                    events.put((name, json.loads(line[6:])))

    threading.Thread(target=run, daemon=True).start()
    assert ready.wait(10)
    assert events.get(timeout=5) == ("status", 200)
    return events


def collect(events: queue.Queue, until, timeout: float = 10.0) -> list:
    seen, deadline = [], datetime.now(UTC).timestamp() + timeout
    while datetime.now(UTC).timestamp() < deadline:
        try:
            seen.append(events.get(timeout=0.2))
        except queue.Empty:
            continue
        if until(seen):
            break
    return seen


def write_reading(conn, device: str, metric: str, value: float, age_s: float = 0.0) -> None:
    """As ingest writes one: the reading, and the device's last_seen in the same transaction."""
    with conn.transaction():
        conn.execute(
            """INSERT INTO telemetry (time, device_key, metric_id, value)
               SELECT now() - %s * interval '1 second', d.key, m.id, %s
               FROM devices d JOIN metrics m ON m.kind = d.kind
               WHERE d.id = %s AND m.name = %s""",
            (age_s, value, device, metric),
        )
        conn.execute(
            """UPDATE devices SET last_seen = greatest(last_seen,
                                                      now() - %s * interval '1 second')
               WHERE id = %s""",
            (age_s, device),
        )


def test_alerts_and_latest_values_reach_only_their_tenant(server, conn):
    alpha = listen(server, api_key_headers(conn, "agency_admin", "alpha"))
    city = listen(server, api_key_headers(conn, "operator"), {"events": "alert"})
    write_reading(conn, ALPHA_DEVICE, "pm25", 123.0)
    write_reading(conn, BRAVO_DEVICE, "count_car_in", 7.0)
    for device, tenant in ((ALPHA_DEVICE, "alpha"), (BRAVO_DEVICE, "bravo")):
        conn.execute(
            """INSERT INTO alerts (kind, severity, device_id, tenant_id, title, source)
               VALUES ('threshold', 'critical', %s, %s, 'high', 'test')""",
            (device, tenant),
        )

    def alpha_done(seen):
        return any(e == "latest" and d["value"] == 123.0 for e, d in seen) and any(
            e == "alert" and d["kind"] == "threshold" for e, d in seen)  # fmt: skip

    seen_alpha = collect(alpha, alpha_done)
    assert alpha_done(seen_alpha)
    assert all(d.get("tenant_id") == "alpha" for _, d in seen_alpha)
    alert = next(d for e, d in seen_alpha if e == "alert" and d["kind"] == "threshold")
    assert alert["op"] == "insert" and alert["state"] == "open"
    assert alert["device_kind"] == "air_quality_station" and alert["commune_code"]

    seen_city = collect(city, lambda s: {d["tenant_id"] for _, d in s if d["kind"] ==
                                         "threshold"} == {"alpha", "bravo"})  # fmt: skip
    assert {d["tenant_id"] for _, d in seen_city if d["kind"] == "threshold"} == {"alpha", "bravo"}
    assert all(e == "alert" for e, _ in seen_city)  # it asked for alerts only


def test_filters_by_device_kind(server, conn):
    cameras = listen(server, api_key_headers(conn, "operator"),
                     {"kind": "traffic_camera", "events": "latest"})  # fmt: skip
    write_reading(conn, ALPHA_DEVICE, "pm25", 55.0)
    write_reading(conn, BRAVO_DEVICE, "count_car_in", 9.0)
    seen = collect(cameras, lambda s: any(d["value"] == 9.0 for _, d in s))
    assert any(d["value"] == 9.0 for _, d in seen)
    assert {d["device_id"] for _, d in seen} == {BRAVO_DEVICE}


def test_the_stream_needs_credentials(server):
    response = httpx.get(f"{server}/live", timeout=10)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
