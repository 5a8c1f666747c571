"""A fleet of simulated air-quality stations only: the thin slice's and the wall tests' fleet.

The city's fleet (every kind) is ``simulators.city``; this one keeps its own small API
(stations every ``interval_s`` wall seconds, wall-clock timestamps) for tests that want
nothing else, and uses the same calibrated signal model.

Each station is registered through the registry's service functions, then speaks the real
contract: its own MQTT client, a retained ``online`` status, an ``offline`` last will, and QoS 1
telemetry on ``ioc/v1/<tenant>/<device>/telemetry``. With a secure broker each station logs in
with its own account, issued afresh at every start (the old plaintext is never kept).
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.broker_auth import sync_broker_auth
from devices.communes import Commune
from devices.credentials import issue_credentials
from devices.payloads import StatusV1, TelemetryV1
from devices.registry import DeviceIn, ensure_tenant, upsert_device
from devices.topics import Channel, Topic
from ioc_core.db import connect_db
from ioc_core.settings import Settings
from simulators.signals import AirQualitySignal
from simulators.sites import jitter, weighted_communes
from simulators.weather import Weather
from simulators.world import AirOptions, World

log = logging.getLogger(__name__)

KIND = "air_quality_station"
DEFAULT_TENANT = "sonnmt"
DEFAULT_TENANT_NAME = "Sở Nông nghiệp và Môi trường Hải Phòng"


@dataclass
class Station:
    device: DeviceIn
    signal: AirQualitySignal
    client: mqtt.Client
    seq: int = 0
    telemetry_topic: str = field(init=False)

    def __post_init__(self) -> None:
        self.telemetry_topic = str(Topic(self.device.tenant_id, self.device.id, Channel.TELEMETRY))


def station_devices(count: int, *, tenant: str = DEFAULT_TENANT) -> list[DeviceIn]:
    return [
        DeviceIn(
            id=f"aq-{i + 1:03d}",
            kind=KIND,
            tenant_id=tenant,
            commune_code=site.code,
            lat=lat,
            lon=lon,
            address=site.full_name,
            firmware="sim-1.0",
            tags=["simulated"],
        )
        for i, (site, (lat, lon)) in enumerate(_sites(count))
    ]


def _sites(count: int) -> list[tuple[Commune, tuple[float, float]]]:
    """Wards first, as monitoring networks concentrate where people live; ~200 m apart."""
    rng = random.Random(7)
    return [(c, jitter(rng, c.lat, c.lon, 200)) for c in weighted_communes(rng, count)]


def register(
    settings: Settings, devices: list[DeviceIn], *, tenant_name: str
) -> dict[str, tuple[str, str]]:
    """Register the stations; with a secure broker, return each one's (username, password)."""
    logins: dict[str, tuple[str, str]] = {}
    with connect_db(settings) as conn:
        for tenant in sorted({d.tenant_id for d in devices}):
            ensure_tenant(conn, tenant, tenant_name)
        for device in devices:
            upsert_device(conn, device)
        if settings.mqtt_secure:
            conn.commit()
            for device in devices:
                issued = issue_credentials(conn, device.id, replace=True)
                logins[device.id] = (issued.username, issued.password)
            sync_broker_auth(settings, conn)
    return logins


class AirQualityFleet:
    def __init__(
        self, settings: Settings, *, stations: int, interval_s: float, tenant: str = DEFAULT_TENANT
    ) -> None:
        self.s = settings
        self.interval_s = interval_s
        self.devices = station_devices(stations, tenant=tenant)
        self.stations: list[Station] = []
        self.logins: dict[str, tuple[str, str]] = {}
        now = datetime.now(UTC)
        # Clean air by default (inside QCVN 05:2023) so tests see no threshold alerts.
        weather = Weather(seed=7, start=now, end=now + timedelta(days=30))
        self.world = World(seed=7, weather=weather, air=AirOptions(20.0, 40.0, False))

    def _client_for(self, device: DeviceIn) -> mqtt.Client:
        status_topic = str(Topic(device.tenant_id, device.id, Channel.STATUS))
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sim-{device.id}")
        if device.id in self.logins:
            client.username_pw_set(*self.logins[device.id])
        elif self.s.mqtt_username:
            client.username_pw_set(self.s.mqtt_username, self.s.mqtt_password)
        offline = StatusV1(v=1, ts=datetime.now(UTC), state="offline", reason="connection lost")
        client.will_set(status_topic, offline.to_json(), qos=1, retain=True)

        def on_connect(c: mqtt.Client, *_: object) -> None:
            online = StatusV1(v=1, ts=datetime.now(UTC), state="online")
            c.publish(status_topic, online.to_json(), qos=1, retain=True)

        client.on_connect = on_connect
        client.connect_async(self.s.mqtt_host, self.s.mqtt_port, keepalive=30)
        client.loop_start()
        return client

    def start(self, *, register_devices: bool = True) -> None:
        if register_devices:
            self.logins = register(self.s, self.devices, tenant_name=DEFAULT_TENANT_NAME)
        for i, device in enumerate(self.devices):
            signal = AirQualitySignal(f"aq-{i}", urban=1.1 if i < 45 else 0.85)
            self.stations.append(Station(device, signal, self._client_for(device)))

    def publish_once(self) -> int:
        now = datetime.now(UTC)
        for station in self.stations:
            station.seq += 1
            metrics = station.signal.sample(now, self.world)
            payload = TelemetryV1(v=1, ts=now, seq=station.seq, metrics=metrics)
            station.client.publish(station.telemetry_topic, payload.to_json(), qos=1)
        return len(self.stations)

    def run(self, stop: threading.Event, *, count: int | None = None) -> None:
        rounds = 0
        while not stop.is_set() and (count is None or rounds < count):
            self.publish_once()
            rounds += 1
            stop.wait(self.interval_s)

    def close(self) -> None:
        for station in self.stations:
            status = str(Topic(station.device.tenant_id, station.device.id, Channel.STATUS))
            bye = StatusV1(v=1, ts=datetime.now(UTC), state="offline", reason="simulator stopped")
            station.client.publish(status, bye.to_json(), qos=1, retain=True).wait_for_publish(2)
            station.client.disconnect()
            station.client.loop_stop()
