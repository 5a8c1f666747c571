"""The control loop against the real broker: commands reach devices and are tracked to their
end, also when the device was offline when the command was made; status and silence are
recorded; bad messages are parked, never fatal."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.commands import create_command, get_command
from devices.liveness import latest_state, status_history
from devices.payloads import CommandAckV1, CommandV1, StatusV1
from devices.registry import DeviceIn, ensure_tenant, upsert_device
from devices.topics import Channel, Topic
from ingest.control import ControlLoop
from tests.ingest.conftest import publish

pytestmark = [pytest.mark.db, pytest.mark.broker]

LAMP = "sl-001"


def eventually(check: Callable[[], object], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


class SimDevice:
    """A device as docs/commands.md asks: last will, retained online, QoS 1 command
    subscription, acks ``accepted`` then ``done`` once per command id."""

    def __init__(self, settings, tenant: str, device_id: str = LAMP, *, ack: bool = True):
        self.ack = ack
        self.received: list[CommandV1] = []
        self.topic = lambda channel: str(Topic(tenant, device_id, channel))
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{tenant}-{device_id}")
        connected = datetime.now(UTC)
        will = StatusV1(v=1, ts=connected, state="offline", reason="connection lost")
        self.client.will_set(self.topic(Channel.STATUS), will.to_json(), qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.ready = threading.Event()
        self.client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=10)
        self.client.loop_start()
        assert self.ready.wait(10)

    def _on_connect(self, client, userdata, flags, rc, props=None):
        client.subscribe(self.topic(Channel.COMMAND), qos=1)
        online = StatusV1(v=1, ts=datetime.now(UTC) + timedelta(milliseconds=10), state="online")
        client.publish(self.topic(Channel.STATUS), online.to_json(), qos=1, retain=True)
        self.ready.set()

    def _on_message(self, client, userdata, msg):
        command = CommandV1.model_validate_json(msg.payload)
        first = command.id not in {c.id for c in self.received}
        self.received.append(command)
        if self.ack and first:
            for status in ("accepted", "done"):
                ack = CommandAckV1(v=1, id=command.id, ts=datetime.now(UTC), status=status)
                client.publish(self.topic(Channel.COMMAND_ACK), ack.to_json(), qos=1)

    def crash(self) -> None:
        """Vanish without DISCONNECT, so the broker publishes the last will."""
        self.client.loop_stop()
        self.client.socket().close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def lamp(conn, tenant) -> str:
    ensure_tenant(conn, tenant, "Sở Xây dựng")
    upsert_device(conn, DeviceIn(id=LAMP, kind="street_light", tenant_id=tenant))
    return LAMP


@pytest.fixture
def control(db_settings, tenant) -> Iterator[ControlLoop]:
    loop = ControlLoop(db_settings, client_id=f"control-{uuid.uuid4().hex[:8]}", tenant=tenant,
                       tick_s=0.1, sweep_s=0.1)  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    assert loop.subscribed.wait(15), "control did not subscribe"
    yield loop
    stop.set()
    thread.join(timeout=15)
    assert not thread.is_alive()


@pytest.fixture
def devices(db_settings, tenant) -> Iterator[Callable[..., SimDevice]]:
    made: list[SimDevice] = []

    def make(**kwargs: object) -> SimDevice:
        made.append(SimDevice(db_settings, tenant, **kwargs))
        return made[-1]

    yield make
    for device in made:
        if device.client.is_connected():
            device.close()


def state_of(conn, command_id) -> Callable[[], str]:
    return lambda: get_command(conn, command_id).state


def test_a_command_round_trip_is_acknowledged(conn, lamp, control, devices):
    device = devices()
    eventually(lambda: latest_state(conn, lamp) == "online")
    command = create_command(conn, lamp, "dim", {"level": 40}, requested_by="op")
    eventually(lambda: state_of(conn, command.id)() == "done")
    done = get_command(conn, command.id)
    assert done.sent_at is not None and done.acked_at is not None and done.attempts == 1
    assert [(c.id, c.name, c.args) for c in device.received] == [
        (str(command.id), "dim", {"level": 40})
    ]


def test_a_command_for_a_device_never_connected_waits_for_it(conn, lamp, control, devices):
    command = create_command(conn, lamp, "set_state", {"state": "on"})
    time.sleep(0.5)  # several ticks
    assert get_command(conn, command.id).state == "queued"
    device = devices()
    eventually(lambda: state_of(conn, command.id)() == "done")
    assert len(device.received) == 1


def test_a_command_after_a_last_will_is_delivered_on_reconnect(conn, lamp, control, devices):
    devices().crash()
    eventually(lambda: latest_state(conn, lamp) == "offline")
    assert status_history(conn, lamp)[0].source == "will"
    command = create_command(conn, lamp, "reboot", {})
    time.sleep(0.5)
    assert get_command(conn, command.id).state == "queued"
    devices()
    eventually(lambda: state_of(conn, command.id)() == "done")
    assert [e.state for e in reversed(status_history(conn, lamp))] == [
        "online", "offline", "online",
    ]  # fmt: skip


def test_an_unacknowledged_command_is_sent_again_when_the_device_reconnects(
    conn, lamp, control, devices
):
    mute = devices(ack=False)
    eventually(lambda: latest_state(conn, lamp) == "online")
    command = create_command(conn, lamp, "set_interval", {"seconds": 300})
    eventually(lambda: len(mute.received) == 1)
    # The control loop publishes, then records "sent": the device may see it first.
    eventually(lambda: state_of(conn, command.id)() == "sent")
    mute.crash()
    eventually(lambda: latest_state(conn, lamp) == "offline")
    devices()
    eventually(lambda: state_of(conn, command.id)() == "done")
    assert get_command(conn, command.id).attempts == 2


def test_an_undelivered_command_expires_at_its_ttl(conn, lamp, control):
    command = create_command(conn, lamp, "dim", {"level": 5}, ttl_s=60)
    conn.execute("UPDATE commands SET expires_at = now() WHERE id = %s", (command.id,))
    eventually(lambda: state_of(conn, command.id)() == "expired")


def test_a_silent_device_is_marked_offline_with_one_alert_until_it_is_heard(conn, lamp, control):
    open_alerts = "SELECT count(*) FROM alerts WHERE device_id = %s AND state = 'open'"
    conn.execute("UPDATE devices SET last_seen = now() - interval '2 hours' WHERE id = %s", (lamp,))
    eventually(lambda: latest_state(conn, lamp) == "offline")
    time.sleep(0.3)  # more sweeps: still one alert
    assert conn.execute(open_alerts, (lamp,)).fetchone()[0] == 1
    assert status_history(conn, lamp)[0].source == "silence"
    conn.execute("UPDATE devices SET last_seen = now() WHERE id = %s", (lamp,))
    eventually(lambda: latest_state(conn, lamp) == "online")
    eventually(lambda: conn.execute(open_alerts, (lamp,)).fetchone()[0] == 0)
    assert status_history(conn, lamp)[0].source == "telemetry"


def test_bad_messages_are_parked_and_the_loop_goes_on(
    conn, lamp, control, devices, publisher, tenant
):
    status_topic = str(Topic(tenant, lamp, Channel.STATUS))
    ack_topic = str(Topic(tenant, lamp, Channel.COMMAND_ACK))
    stranger = str(Topic(tenant, "sl-999", Channel.STATUS))
    online = StatusV1(v=1, ts=datetime.now(UTC), state="online").to_json()
    unknown_ack = CommandAckV1(v=1, id=str(uuid.uuid4()), ts=datetime.now(UTC), status="done")
    publish(publisher, status_topic, b"{not json")
    publish(publisher, status_topic, b'{"v": 1, "ts": "2026-01-01T00:00:00Z", "state": "asleep"}')
    publish(publisher, ack_topic, unknown_ack.to_json())
    publish(publisher, stranger, online)
    reasons = "SELECT reason, device_id FROM dead_letters ORDER BY id"
    eventually(lambda: len(conn.execute(reasons).fetchall()) == 4)
    assert conn.execute(reasons).fetchall() == [
        ("not_json", lamp), ("bad_schema", lamp), ("unknown_command", lamp),
        ("unknown_device", "sl-999"),
    ]  # fmt: skip
    devices()
    command = create_command(conn, lamp, "dim", {"level": 70})
    eventually(lambda: state_of(conn, command.id)() == "done")
