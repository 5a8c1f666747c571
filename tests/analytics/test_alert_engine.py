"""The engine on a real broker and database: a reading over a rule's level becomes one alert,
published on MQTT and posted, signed, to a real HTTP receiver that fails at first (retries);
the reading coming back under the clear level resolves it; a last will opens a connectivity
alert in event time. The outbox survives a notifier that was not running."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from analytics.alerts.notify import Notifier
from analytics.alerts.runner import EngineRunner
from analytics.alerts.signing import verify
from analytics.thresholds import RuleSpec
from analytics.thresholds.service import create_rule
from devices.registry import DeviceIn, ensure_tenant, upsert_device
from tests.ingest.conftest import start_worker

SECRET = "test-webhook-secret"


class Receiver:
    """A real HTTP server on a free port; answers 503 to the first ``fail_first`` posts."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[tuple[bytes, dict[str, str]]] = []
        self.attempts = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.attempts += 1
                if outer.attempts <= fail_first:
                    self.send_response(503)
                else:
                    outer.bodies.append((body, dict(self.headers)))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def eventually(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=2)
    yield r
    r.close()


@pytest.fixture
def station(conn, tenant) -> str:
    ensure_tenant(conn, tenant, "Sở NN&MT")
    upsert_device(conn, DeviceIn(id="aq-001", kind="air_quality_station", tenant_id=tenant,
                                 commune_code="11407", lat=20.83, lon=106.67))  # fmt: skip
    spec = RuleSpec(name="PM2.5 instant", kind="air_quality_station", metric="pm25",
                    scope_type="tenant", scope_value=tenant, comparison="above",
                    levels={"warning": 100, "critical": 200}, clear_level=80)  # fmt: skip
    create_rule(conn, spec, changed_by="test", reason="engine test")
    return "aq-001"


@pytest.fixture
def engine(db_settings, tenant, station, receiver) -> Iterator[EngineRunner]:
    settings = db_settings.model_copy(update={
        "alerts_shared_group": f"g{uuid.uuid4().hex[:8]}", "alerts_webhook_urls": [receiver.url],
        "alerts_webhook_secret": SECRET, "alerts_retry_first_s": 0.2,
    })  # fmt: skip
    settings = type(settings).model_validate(settings.model_dump())  # SecretStr from str
    # As deployed: ingest stores the telemetry and hands the engine its readings stream.
    ingest = start_worker(settings, tenant, f"ingest-{uuid.uuid4().hex[:8]}")
    runner = EngineRunner(settings, client_id=f"alerts-{uuid.uuid4().hex[:8]}")
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    assert runner.subscribed.wait(15)
    yield runner
    stop.set()
    thread.join(timeout=20)
    ingest.halt()


@pytest.fixture
def client(db_settings) -> Iterator[tuple[mqtt.Client, list[mqtt.MQTTMessage]]]:
    received: list[mqtt.MQTTMessage] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
    c.on_message = lambda _c, _u, m: received.append(m)
    c.connect(db_settings.mqtt_host, db_settings.mqtt_port)
    c.loop_start()
    yield c, received
    c.disconnect()
    c.loop_stop()


def send(c: mqtt.Client, tenant: str, metrics: dict, ts: datetime, seq: int = 1) -> None:
    body = json.dumps({"v": 1, "ts": ts.isoformat(), "seq": seq, "metrics": metrics})
    c.publish(f"ioc/v1/{tenant}/aq-001/telemetry", body, qos=1).wait_for_publish(5)


def test_a_breach_is_stored_published_signed_and_resolved(engine, client, conn, tenant,
                                                          receiver):  # fmt: skip
    c, received = client
    c.subscribe(f"ioc/v1/_alerts/{tenant}/#", qos=1)
    time.sleep(0.3)
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    send(c, tenant, {"pm25": 50.0}, t0)
    send(c, tenant, {"pm25": 250.0}, t0 + timedelta(minutes=1), seq=2)
    assert eventually(lambda: received)
    msg = received[0]
    assert msg.topic == f"ioc/v1/_alerts/{tenant}/critical/threshold"
    doc = json.loads(msg.payload)
    assert (doc["op"], doc["device_id"], doc["value"], doc["threshold"]) == (
        "opened", "aq-001", 250.0, 200.0)  # fmt: skip
    row = conn.execute("SELECT state, severity, event_time, commune_code, rule_version FROM "
                       "alerts WHERE kind = 'threshold'").fetchone()  # fmt: skip
    assert row == ("open", "critical", t0 + timedelta(minutes=1), "11407", 1)

    # Two 503s, then delivered: signed over the raw body.
    assert eventually(lambda: receiver.bodies)
    body, headers = receiver.bodies[0]
    assert verify(SECRET, body, headers["X-IOC-Signature"])
    assert not verify("other-secret", body, headers["X-IOC-Signature"])
    assert json.loads(body)["alert_id"] == doc["alert_id"] and receiver.attempts == 3
    # The receiver answers before the notifier records the attempt: wait for the record.
    attempts = (
        "SELECT attempts, delivered_at IS NOT NULL FROM alert_deliveries WHERE target <> 'mqtt'"
    )
    assert eventually(lambda: conn.execute(attempts).fetchone() == (3, True))

    send(c, tenant, {"pm25": 90.0}, t0 + timedelta(minutes=2), seq=3)  # held: above 80
    send(c, tenant, {"pm25": 70.0}, t0 + timedelta(minutes=3), seq=4)
    assert eventually(lambda: len(received) >= 2)
    assert conn.execute("SELECT state FROM alerts WHERE kind = 'threshold'").fetchall() == [
        ("resolved",)]  # fmt: skip
    assert [json.loads(m.payload)["op"] for m in received] == ["opened", "resolved"]


def test_a_last_will_opens_connectivity_in_event_time(engine, client, conn, tenant):
    c, _ = client
    connected = datetime.now(UTC) - timedelta(minutes=30)
    status = f"ioc/v1/{tenant}/aq-001/status"
    c.publish(status, json.dumps({"v": 1, "ts": connected.isoformat(), "state": "online"}),
              qos=1, retain=True).wait_for_publish(5)  # fmt: skip
    last = connected + timedelta(minutes=20)
    send(c, tenant, {"pm25": 20.0}, last)
    time.sleep(0.5)
    c.publish(
        status,
        json.dumps(
            {"v": 1, "ts": connected.isoformat(), "state": "offline", "reason": "connection lost"}
        ),
        qos=1,
    ).wait_for_publish(5)
    row = eventually(
        lambda: conn.execute(
            "SELECT state, event_time, source FROM alerts WHERE kind = 'connectivity'"
        ).fetchone()
    )
    assert row == ("open", last, "engine")
    send(c, tenant, {"pm25": 21.0}, last + timedelta(minutes=1), seq=2)
    assert eventually(
        lambda: conn.execute(
            "SELECT 1 FROM alerts WHERE kind = 'connectivity' AND state = 'resolved'"
        ).fetchone()
    )
    c.publish(status, b"", qos=1, retain=True).wait_for_publish(5)  # clear the retained status


def test_the_outbox_keeps_notifications_until_a_notifier_runs(db_settings, station, conn,
                                                               receiver):  # fmt: skip
    from analytics.alerts import Finding, apply_findings

    f = Finding(
        kind="quality_spike",
        device_id=station,
        key="pm25",
        active=True,
        severity="warning",
        time=datetime.now(UTC),
        title="spike",
        reason="x",
    )
    apply_findings(conn, [f], source="quality")  # no notifier running: it waits in the outbox
    settings = type(db_settings).model_validate({
        **db_settings.model_dump(), "alerts_webhook_urls": [receiver.url],
        "alerts_webhook_secret": SECRET, "alerts_retry_first_s": 0.1,
        "alerts_notify_mqtt": False})  # fmt: skip
    notifier = Notifier(settings)
    try:
        assert eventually(lambda: notifier.step(conn) >= 0 and receiver.bodies, timeout=10)
    finally:
        notifier.close()
    assert json.loads(receiver.bodies[0][0])["kind"] == "quality_spike"


def test_finished_notifications_are_purged_after_the_keep_period(db_settings, station, conn):
    from analytics.alerts import Finding, apply_findings

    f = Finding(
        kind="quality_spike",
        device_id=station,
        key="pm25",
        active=True,
        severity="warning",
        time=datetime.now(UTC),
        title="spike",
        reason="x",
    )
    apply_findings(conn, [f], source="quality")
    notifier = Notifier(db_settings.model_copy(update={"alerts_notify_mqtt": False,
                                                       "alerts_webhook_urls": []}))  # fmt: skip
    try:
        notifier.targets = ["http://127.0.0.1:9/unreachable"]
        notifier.step(conn)  # fanned out; the delivery fails and waits for a retry
        conn.execute("UPDATE alert_outbox SET created_at = now() - interval '40 days'")
        assert notifier.purge(conn) == 0  # still pending: kept
        conn.execute("UPDATE alert_deliveries SET failed_at = now()")
        assert notifier.purge(conn) == 1
    finally:
        notifier.close()
