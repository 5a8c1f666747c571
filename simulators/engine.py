"""The simulation loop: devices report on their own schedules in simulated time, over links.

Simulated time runs at ``speed`` x wall time from ``sim_start``; each device reports every
``interval_s`` simulated seconds (first report at a random phase, so a fleet's rate is smooth
from the first second), and a reading's timestamp is its scheduled simulated instant. One
thread schedules and publishes; paho's network threads (one per link) send and receive;
commands arrive on those threads and are executed on the loop's thread, so device state is
never touched by two threads.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import queue
import random
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from devices.payloads import CommandAckV1, StatusV1
from devices.topics import Channel, Topic
from ioc_core.settings import Settings
from simulators.city import SimDevice
from simulators.control import execute, parse_command
from simulators.incidents import Incident
from simulators.links import Link, default_connect_timeout, wait_connected
from simulators.outages import Outages
from simulators.world import World

log = logging.getLogger(__name__)

# With an open broker, more than LIGHTING_LINK_LIMIT lighting devices ride on gateway links
# (see simulators.links), and the other kinds keep a connection each up to SENSOR_LINK_LIMIT
# of them. The hard ceiling is paho's: its network loop uses select(), which cannot watch a
# file descriptor numbered 1024 or above, and each client holds three (its socket and a
# wake-up socket pair), so one process can run about 300 clients. A secure broker's ACL
# allows per-device links only, so there the fleet is limited to PER_DEVICE_LIMIT devices.
PER_DEVICE_LIMIT = 300
LIGHTING_LINK_LIMIT = 100
SENSOR_LINK_LIMIT = 250
GATEWAY_SIZE = 5_000
LIGHTING = ("street_light", "lighting_cabinet")


@dataclass
class RunStats:
    devices: int
    links: int
    target_msgs_per_s: float
    achieved_msgs_per_s: float = 0.0
    published: int = 0
    acknowledged: int = 0
    errors: int = 0
    dropped: int = 0  # not sent: their link was down with a full window (simulators.links)
    wall_s: float = 0.0
    sim_start: str = ""
    sim_end: str = ""
    commands: int = 0

    def as_json(self) -> dict[str, object]:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class _Dev:
    sim: SimDevice
    topic: str
    link: Link
    incidents: list[Incident] = field(default_factory=list)
    seq: int = 0
    generation: int = 0


class Engine:
    def __init__(
        self,
        settings: Settings,
        fleet: list[SimDevice],
        world: World,
        *,
        sim_start: datetime,
        speed: float,
        sim_end: datetime | None = None,
        incidents: Sequence[Incident] = (),
        logins: dict[str, tuple[str, str]] | None = None,
        stop: threading.Event | None = None,
        prompt: bool = False,
        progress: bool = False,
        gateways: bool | None = None,
        seed: int = 0,
        goodbye: bool = True,
        connect_timeout: float | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.s = settings
        self.world = world
        self.speed = speed
        self.sim_start = sim_start
        self.sim_end = sim_end
        self.stop = stop or threading.Event()
        self.logins = logins or {}
        self.prompt = prompt
        self.goodbye = goodbye
        self.connect_timeout = connect_timeout
        self.progress = progress
        self.rng = random.Random(f"engine-{seed}")
        lighting = sum(d.kind in LIGHTING for d in fleet)
        if gateways is None:
            gateways = not settings.mqtt_secure and (
                lighting > LIGHTING_LINK_LIMIT or len(fleet) - lighting > SENSOR_LINK_LIMIT
            )
        self.gateways = gateways
        if settings.mqtt_secure and (gateways or len(fleet) > PER_DEVICE_LIMIT):
            raise ValueError(
                f"{len(fleet)} devices need gateway links, which publish for many devices; the"
                " broker's ACL gives each device account its own topics only, so run large fleets"
                f" against an open broker (IOC_MQTT_SECURITY=open) or use <= {PER_DEVICE_LIMIT}"
            )
        self.incidents = list(incidents)
        self.commands: queue.Queue[tuple[str, str, bytes]] = queue.Queue()
        self.links: list[Link] = []
        self.devs: dict[str, _Dev] = {}
        self._build(fleet)
        self.heap: list[tuple[float, float, int, str]] = []
        self.stats = RunStats(
            devices=len(fleet), links=len(self.links), target_msgs_per_s=self.target_rate()
        )
        self.outages = Outages(self._link)
        self._offline: dict[str, bool] = {}  # "incident:device" begun -> its link comes back
        self._t0: float | None = None

    # --- set-up -------------------------------------------------------------------------------
    def _build(self, fleet: list[SimDevice]) -> None:
        """Per-device links for small fleets. For big ones, lighting devices ride on gateway
        links (a district's cabinets and lights, as behind a LoRaWAN network server); the
        other kinds keep their own connections while they are few enough."""
        will_ts = self.sim_start
        lighting = [d for d in fleet if d.kind in LIGHTING]
        others = [d for d in fleet if d.kind not in LIGHTING]
        if not self.gateways:
            own, shared = fleet, []
        else:
            own = others if len(others) <= SENSOR_LINK_LIMIT else []
            shared = lighting if own else lighting + others
            if len(lighting) <= LIGHTING_LINK_LIMIT:
                own, shared = own + lighting, [d for d in shared if d.kind not in LIGHTING]
        for dev in own:
            link = self._link(dev, will_ts)
            self.devs[dev.id] = _Dev(dev, _topic(dev, Channel.TELEMETRY), link)
        groups = [shared[i : i + GATEWAY_SIZE] for i in range(0, len(shared), GATEWAY_SIZE)]
        for n, group in enumerate(groups):
            head = next((d for d in group if d.kind == "lighting_cabinet"), group[0])
            link = Link(
                self.s, client_id=f"sim-gw-{n:03d}", tenant=head.device.tenant_id,
                device_id=head.id, login=None, on_command=self._on_command,
                command_filter="ioc/v1/+/+/command", window=5000, will_ts=will_ts,
            )  # fmt: skip
            self.links.append(link)
            for dev in group:
                self.devs[dev.id] = _Dev(dev, _topic(dev, Channel.TELEMETRY), link)
        for inc in self.incidents:
            for device_id in inc.device_ids:
                self.devs[device_id].incidents.append(inc)

    def _link(self, dev: SimDevice, will_ts: datetime) -> Link:
        link = Link(
            self.s,
            client_id=f"sim-{dev.id}",
            tenant=dev.device.tenant_id,
            device_id=dev.id,
            login=self.logins.get(dev.id),
            on_command=self._on_command,
            window=200,
            will_ts=will_ts,
        )
        self.links.append(link)
        return link

    def target_rate(self) -> float:
        return self.speed * sum(1.0 / d.sim.interval_s for d in self.devs.values())

    def _on_command(self, tenant: str, device_id: str, payload: bytes) -> None:
        self.commands.put((tenant, device_id, payload))

    def connect(self, timeout: float | None = None) -> bool:
        """Start every link and wait until all are connected; False if stopped first.

        ``timeout`` (default ``connect_timeout``, else 60 s + 0.2 s per link: a big fleet's
        links connect one after another) past which ``BrokerUnreachableError`` is raised.
        """
        if timeout is None:
            timeout = self.connect_timeout
        if timeout is None:
            timeout = default_connect_timeout(len(self.links))
        for link in self.links:
            link.start()
        return wait_connected(self.s, self.links, timeout, self.stop)

    def announce(self) -> None:
        """Every device's retained ``online`` status (the gateway speaks for its devices)."""
        for d in self.devs.values():
            topic = _topic(d.sim, Channel.STATUS)
            msg = StatusV1(v=1, ts=self.sim_start, state="online")
            d.link.publish(topic, msg.to_json(), retain=True)
        for link in self.links:
            link.flush(60)

    # --- the loop -----------------------------------------------------------------------------
    def _schedule(self) -> None:
        start = self.sim_start.timestamp()
        for d in self.devs.values():
            interval = d.sim.interval_s
            phase = self.rng.uniform(0, min(interval, 5 * self.speed) if self.prompt else interval)
            self.heap.append((start + phase, self.rng.random(), d.generation, d.sim.id))
        heapq.heapify(self.heap)

    def sim_now(self, t0: float) -> float:
        return self.sim_start.timestamp() + (time.monotonic() - t0) * self.speed

    def run(self) -> RunStats:
        t0 = time.monotonic()
        try:
            if not self.connect():
                return self.stats
            self.announce()
            self._schedule()
            t0 = time.monotonic()
            self._t0 = t0
            next_progress = t0 + 2.0
            end = self.sim_end.timestamp() if self.sim_end else None
            while not self.stop.is_set():
                now = self.sim_now(t0)
                if end is not None and now >= end:
                    break
                self._drain_commands(now)
                self._offline_transitions(now)
                limit = now if end is None else min(now, end)
                while self.heap and self.heap[0][0] <= limit:
                    due, _, gen, device_id = heapq.heappop(self.heap)
                    d = self.devs[device_id]
                    if gen != d.generation:
                        continue
                    self._emit(d, due)
                    heapq.heappush(
                        self.heap, (due + d.sim.interval_s, self.rng.random(), gen, device_id)
                    )
                if self.progress and time.monotonic() >= next_progress:
                    self._show_progress(t0, now)
                    next_progress += 2.0
                wait = 0.05
                if self.heap:
                    wait = min(wait, max(0.0, (self.heap[0][0] - self.sim_now(t0)) / self.speed))
                self.stop.wait(wait)
        finally:
            self.stats.wall_s = time.monotonic() - t0
            self.stats.achieved_msgs_per_s = self.stats.published / max(self.stats.wall_s, 1e-9)
            self.stats.sim_start = self.sim_start.isoformat()
            self.stats.sim_end = datetime.fromtimestamp(self.sim_now(t0), UTC).isoformat()
            self._close()
        return self.stats

    def _emit(self, d: _Dev, due: float) -> None:
        at = datetime.fromtimestamp(due, UTC)
        metrics = d.sim.signal.sample(at, self.world)
        silent = False
        for inc in d.incidents:
            inc.apply(d.sim, at, metrics)
            silent = silent or inc.silences(d.sim.id, at)
        if silent:
            return
        d.seq += 1
        payload = orjson.dumps({"v": 1, "ts": at.isoformat(), "seq": d.seq, "metrics": metrics})
        if d.link.publish(d.topic, payload):
            self.stats.published += 1

    def _drain_commands(self, now: float) -> None:
        while True:
            try:
                tenant, device_id, payload = self.commands.get_nowait()
            except queue.Empty:
                return
            d = self.devs.get(device_id)
            if d is None or d.sim.device.tenant_id != tenant:
                continue
            self.stats.commands += 1
            at = datetime.fromtimestamp(now, UTC)
            try:
                command_id, name, args = parse_command(payload)
            except ValueError as exc:
                log.warning("%s: unreadable command: %s", device_id, exc)
                continue
            self._ack(d, command_id, "accepted", None, at)
            outcome = execute(d.sim, command_id, name, args)
            self._ack(d, command_id, outcome.status, outcome.detail, at)
            if outcome.new_interval_s is not None or outcome.report_now:
                d.generation += 1
                first = now if outcome.report_now else now + d.sim.interval_s
                heapq.heappush(self.heap, (first, self.rng.random(), d.generation, device_id))

    def _ack(self, d: _Dev, command_id: str, status: str, detail: str | None, at: datetime) -> None:
        ack = CommandAckV1(v=1, ts=at, id=command_id, status=status, detail=detail)
        d.link.publish(_topic(d.sim, Channel.COMMAND_ACK), ack.to_json())

    def _offline_transitions(self, now: float) -> None:
        """Start and end ``offline`` incidents; the broker's part runs in ``Outages`` steps,
        so a broker that is down never holds up the other devices' schedules."""
        self.outages.step()
        for inc in self.incidents:
            if inc.type != "offline":
                continue
            for device_id in inc.device_ids:
                d = self.devs[device_id]
                key = f"{inc.id}:{device_id}"
                if inc.start.timestamp() <= now < inc.end.timestamp() and key not in self._offline:
                    self._drop(d, key, inc.start)
                elif now >= inc.end.timestamp() and self._offline.get(key):
                    self._restore(d, key, inc.end)

    def _drop(self, d: _Dev, key: str, at: datetime) -> None:
        if d.link.device_id != d.sim.id:
            log.warning("%s shares a gateway link: it goes silent, no last will fires", d.sim.id)
            self._offline[key] = False
            return
        self.outages.begin(key, d.sim, d.link, at)
        self._offline[key] = True

    def _restore(self, d: _Dev, key: str, at: datetime) -> None:
        d.link = self.outages.end(key, at)
        self._offline[key] = False

    def _show_progress(self, t0: float, now: float) -> None:
        wall = time.monotonic() - t0
        rate = self.stats.published / max(wall, 1e-9)
        sim = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M")
        acked = sum(link.acked for link in self.links)
        print(
            f"\r{wall:7.0f} s  sim {sim}  published {self.stats.published:,}  acked {acked:,}"
            f"  {rate:,.1f}/{self.stats.target_msgs_per_s:,.1f} msg/s  errors {self._errors()}"
            f"  dropped {self._dropped_count()}",
            end="",
            file=sys.stderr,
            flush=True,
        )

    def _errors(self) -> int:
        return sum(link.errors for link in self.links)

    def _dropped_count(self) -> int:
        return sum(link.dropped for link in self.links)

    def _close(self) -> None:
        self.outages.close()
        at = self.sim_start
        if self._t0 is not None:
            now = self.sim_now(self._t0)
            if self.sim_end is not None:
                now = min(now, self.sim_end.timestamp())
            at = datetime.fromtimestamp(now, UTC)
        deadline = time.monotonic() + 30  # one budget for the fleet, not 30 s per link
        for link in self.links:
            link.flush(max(0.0, deadline - time.monotonic()))
        self.stats.acknowledged = sum(link.acked for link in self.links)
        self.stats.errors = self._errors()
        self.stats.dropped = self._dropped_count()
        live = {id(d.link) for d in self.devs.values()}
        for link in self.links:
            if id(link) in live:
                link.hang_up(at, say_goodbye=self.goodbye)
        for link in self.links:
            with contextlib.suppress(Exception):  # a dropped link has no loop left
                link.join()
        if self.progress:
            print(file=sys.stderr)


def _topic(dev: SimDevice, channel: Channel) -> str:
    return str(Topic(dev.device.tenant_id, dev.id, channel))


def later(at: datetime, seconds: float) -> datetime:
    return at + timedelta(seconds=seconds)
