"""Ingest through its own crash and through restarts of the broker and the database.

The issue's words: "Kill -9 the ingest worker mid-stream and restart it; restart Mosquitto
mid-stream; restart PostgreSQL mid-stream. In each case, after recovery, the rows in the database
equal exactly what was published: 0 lost, 0 duplicated."

Each test runs on a stack of its own (PostgreSQL + Mosquitto on free ports in a folder of its
own, ~1.5 s to start), so stopping a service, or leaving a persistent session subscribed to
every tenant, never disturbs another test. The publisher sends a known set: 5,000 messages from
5 devices over ~6 s, 3 metrics each, a unique timestamp per device and message, so the expected
telemetry is known row for row and the check compares sets of (device_key, metric_id, time,
value): nothing missing, nothing extra, nothing twice, nothing in telemetry_conflicts (a
redelivered message carries the same values) and no dead letter (every message is valid).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ingest import registry_cache
from ioc_core.plugins import migrate_and_sync
from ioc_core.settings import Settings
from ioc_core.stack import stack_down, stack_up
from ioc_core.stack.mosquitto import MosquittoService
from ioc_core.stack.postgres import PostgresService
from tests.conftest import make_var_dir, stack_settings
from tests.ingest.conftest import start_worker, telemetry

pytestmark = [pytest.mark.db, pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(120)]

DEVICES = 5
MESSAGES = 5_000
METRICS = ("pm25", "pm10", "o3")
PUBLISH_S = 6.0  # ~830 msg/s: slow enough that every fault lands while messages still flow
FAULT_AT = 0.25  # inject the fault once this share of the expected rows is stored
OUTAGE_S = 1.5  # how long the broker / database / worker stays down
# A message still without PUBACK this long after it was handed to paho is published again.
# Well above a broker restart plus paho's reconnect back-off, so it only fires if something
# is really lost between publisher and broker (then the duplicate is harmless: idempotent).
RESEND_AFTER_S = 20.0
SETTLE_S = 60.0

Row = tuple[int, int, datetime, float]  # (device_key, metric_id, time, value)


# --- the stack, the fleet and the expected rows --------------------------------------------


@contextmanager
def private_stack(**overrides: object) -> Iterator[Settings]:
    """A whole stack for one test alone, migrated, removed afterwards."""
    var_dir = make_var_dir()
    settings = stack_settings(var_dir, **overrides)
    try:
        stack_up(settings)
        with psycopg.connect(settings.postgres_dsn) as conn:
            migrate_and_sync(conn)
        yield settings
    finally:
        stack_down(settings)
        shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture
def own_stack() -> Iterator[Settings]:
    with private_stack() as settings:
        yield settings


# The broker sends at most this many unacknowledged messages to the worker; the rest of a
# backlog waits in the broker's queue for the session (production: 20,000, see settings).
SMALL_INFLIGHT = 500


@pytest.fixture
def small_window_stack() -> Iterator[Settings]:
    with private_stack(mqtt_max_inflight_messages=SMALL_INFLIGHT) as settings:
        yield settings


@dataclass(frozen=True)
class Fleet:
    """Registered devices and the deterministic message stream they publish."""

    tenant: str
    keys: dict[str, int]  # device id -> telemetry device_key
    metric_ids: dict[str, int]
    start: datetime

    @property
    def ids(self) -> list[str]:
        return sorted(self.keys)

    def message(self, i: int) -> tuple[str, bytes, list[Row]]:
        """Topic, payload and the rows message ``i`` must become."""
        device = self.ids[i % DEVICES]
        n = i // DEVICES
        ts = self.start + timedelta(milliseconds=n)  # unique per device and message
        values = {"pm25": i % 997 + 0.5, "pm10": i % 1999 + 0.25, "o3": i % 1499 + 0.75}
        rows = [(self.keys[device], self.metric_ids[m], ts, values[m]) for m in METRICS]
        payload = telemetry(n, dict[str, object](values), ts)
        return f"ioc/v1/{self.tenant}/{device}/telemetry", payload, rows

    def expected(self, count: int = MESSAGES) -> set[Row]:
        return {row for i in range(count) for row in self.message(i)[2]}


def register_fleet(settings: Settings, devices: int = DEVICES) -> Fleet:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        ensure_tenant(conn, tenant, "Reliability test")
        for n in range(devices):
            upsert_device(conn, DeviceIn(id=f"aq-{n:03d}", kind="air_quality_station",
                                         tenant_id=tenant, commune_code="11407"))  # fmt: skip
        keys: dict[str, int] = dict(
            conn.execute("SELECT id, key FROM devices WHERE tenant_id = %s", (tenant,)).fetchall()
        )
        metric_ids: dict[str, int] = dict(
            conn.execute("SELECT name, id FROM metrics WHERE kind = 'air_quality_station'")
        )
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    return Fleet(tenant, keys, metric_ids, start)


# --- looking at the database (reconnecting each time: it may just have restarted) -----------


def count_rows(settings: Settings, fleet: Fleet) -> int | None:
    """Readings of the fleet stored so far, or None while the database is unreachable."""
    try:
        with psycopg.connect(settings.postgres_dsn, connect_timeout=3) as conn:
            (n,) = conn.execute(  # type: ignore[misc]
                "SELECT count(*) FROM telemetry WHERE device_key = ANY(%s)",
                (list(fleet.keys.values()),),
            ).fetchone()
            return int(n)
    except psycopg.OperationalError:
        return None


def wait_rows(settings: Settings, fleet: Fleet, at_least: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        n = count_rows(settings, fleet) or 0
        if n >= at_least:
            return n
        assert time.monotonic() < deadline, f"only {n} of {at_least} rows after {timeout}s"
        time.sleep(0.1)


def settle(
    settings: Settings, fleet: Fleet, expected: int, *, alive: Callable[[], bool],
    timeout: float = SETTLE_S,
) -> int:  # fmt: skip
    """Wait for quiescence: the count reached ``expected`` and held for a second (or timeout,
    or the worker died). Holding still matters: a count at the target could still grow."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline and alive():
        n = count_rows(settings, fleet)
        now = time.monotonic()
        if n is None or n != last:
            last, since = (last if n is None else n), now
        elif n >= expected and now - since >= 1.0:
            break
        time.sleep(0.2)
    return last


def assert_stored_exactly(settings: Settings, fleet: Fleet) -> None:
    expected = fleet.expected()
    with psycopg.connect(settings.postgres_dsn) as conn:
        got = Counter(
            conn.execute(
                "SELECT device_key, metric_id, time, value FROM telemetry "
                "WHERE device_key = ANY(%s)",
                (list(fleet.keys.values()),),
            ).fetchall()
        )
        conflicts = conn.execute("SELECT count(*) FROM telemetry_conflicts").fetchone()
        dead = conn.execute("SELECT reason, count(*) FROM dead_letters GROUP BY 1").fetchall()
    missing = expected - got.keys()
    extra = got.keys() - expected
    doubled = {row: n for row, n in got.items() if n > 1}
    assert not (missing or extra or doubled), (
        f"published {len(expected)} readings, stored {sum(got.values())}: "
        f"{len(missing)} missing (e.g. {sorted(missing)[:3]}), "
        f"{len(extra)} extra (e.g. {sorted(extra)[:3]}), {len(doubled)} duplicated"
    )
    assert conflicts == (0,), "a redelivered message must carry the values already stored"
    assert dead == [], f"valid messages were dead-lettered: {dead}"


# --- the publisher ---------------------------------------------------------------------------


class AckedPublisher:
    """A QoS 1 publisher that knows, message by message, that the broker has taken each one.

    At-least-once to the broker means the sender keeps every message until its PUBACK and
    sends it again (DUP) after a reconnect. paho does that from memory: ``publish()`` while the
    broker is down queues (``max_queued_messages_set(0)``: unbounded) and every reconnect
    resends whatever has no PUBACK yet. ``clean_session=False`` because MQTT 3.1.1 (3.1.2.4)
    lets a clean-session client discard unacknowledged QoS 1 messages; paho 2.2 resends them
    either way, but we ask for what the spec guarantees rather than rely on that.

    What proves delivery is the PUBACK itself, so ``on_publish`` records each acknowledged
    mid and :meth:`confirm` waits for every message, publishing again anything still
    unacknowledged ``RESEND_AFTER_S`` after it was sent: at-least-once owed to no library
    internal (the extra copy is harmless, storage being idempotent, and the test checks that).

    Not "re-publish whatever ``wait_for_publish`` did not complete": in paho 2.2 a message
    published while disconnected keeps ``rc == MQTT_ERR_NO_CONN`` in its ``MQTTMessageInfo``,
    so ``wait_for_publish()`` and ``is_published()`` raise even after paho has delivered it
    on reconnect; that loop would resend every message of an outage and report as failed
    what was in fact delivered.
    """

    def __init__(self, settings: Settings, fleet: Fleet) -> None:
        self.fleet = fleet
        self.resent = 0
        self._lock = threading.Lock()
        self._acked: set[int] = set()  # mids the broker acknowledged
        self._mids: dict[int, list[int]] = {}  # message index -> mids it was sent under
        self._sent_at: dict[int, float] = {}
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}",
            clean_session=False,
        )  # fmt: skip
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(200)
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.on_publish = self._on_publish
        self.client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=10)
        self.client.loop_start()

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int, *args: object) -> None:
        with self._lock:
            self._acked.add(mid)

    def send(self, i: int) -> None:
        topic, payload, _ = self.fleet.message(i)
        # Never hold our lock across publish(): paho calls on_publish holding its own.
        info = self.client.publish(topic, payload, qos=1)
        assert info.rc != mqtt.MQTT_ERR_QUEUE_SIZE, "paho refused to queue"
        with self._lock:
            self._mids.setdefault(i, []).append(info.mid)
            self._sent_at[i] = time.monotonic()

    def acked(self, i: int) -> bool:
        with self._lock:
            return any(mid in self._acked for mid in self._mids.get(i, ()))

    def acked_count(self) -> int:
        with self._lock:
            return sum(any(m in self._acked for m in mids) for mids in self._mids.values())

    def publish_all(self, indices: range, seconds: float) -> None:
        """Send at an even pace; delivery is checked later by :meth:`confirm`."""
        t0 = time.monotonic()
        for n, i in enumerate(indices):
            delay = t0 + seconds * n / len(indices) - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.send(i)

    def confirm(self, indices: Iterable[int], timeout: float) -> None:
        waiting = set(indices)
        deadline = time.monotonic() + timeout
        while waiting:
            waiting = {i for i in waiting if not self.acked(i)}
            for i in waiting:
                if time.monotonic() - self._sent_at[i] > RESEND_AFTER_S:
                    self.resent += 1
                    self.send(i)
            assert time.monotonic() < deadline or not waiting, (
                f"{len(waiting)} messages never acknowledged by the broker, e.g. "
                f"{sorted(waiting)[:5]}"
            )
            time.sleep(0.1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def await_consuming(publisher: AckedPublisher, settings: Settings, fleet: Fleet) -> None:
    """Message 0 is the probe: sent every half second until its readings are stored.

    The first run of a worker creates its session only when it subscribes; a message sent
    before that would reach no one. Resending the same message is also the first duplicate
    the idempotent writer absorbs.
    """
    deadline = time.monotonic() + 30
    while (count_rows(settings, fleet) or 0) < len(METRICS):
        assert time.monotonic() < deadline, "the worker stored nothing within 30 s"
        publisher.send(0)
        time.sleep(0.5)
    publisher.confirm([0], timeout=10)


# --- the worker as a process -----------------------------------------------------------------

_SUMMARY = re.compile(r"messages=(\d+) readings=(\d+) inserted=(\d+) duplicates=(\d+)")


class WorkerProcess:
    """``ioc ingest run`` as an operator runs it: a process configured by IOC_* alone."""

    def __init__(self, settings: Settings, client_id: str, log: Path) -> None:
        self.s = settings
        self.client_id = client_id
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
        env.update({
            "IOC_ENVIRONMENT": "test",
            "IOC_VAR_DIR": str(self.s.var_dir),
            "IOC_PG_PORT": str(self.s.pg_port),
            "IOC_PG_DATABASE": self.s.pg_database,
            "IOC_MQTT_PORT": str(self.s.mqtt_port),
            "IOC_INGEST_CLIENT_ID": self.client_id,
            "IOC_INGEST_METRICS_PORT": "0",
        })  # fmt: skip
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ioc_core.cli.main", "ingest", "run"],
                env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.s.var_dir,  # no stray .env in the working directory
            )  # fmt: skip

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> dict[str, int]:
        """SIGTERM, as an operator stops it; returns the counters of its exit summary."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        found = _SUMMARY.findall(self.log.read_text(errors="replace"))
        if not found:
            return {}
        return dict(zip(("messages", "readings", "inserted", "duplicates"), map(int, found[-1]),
                        strict=True))  # fmt: skip

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@pytest.fixture
def processes() -> Iterator[list[WorkerProcess]]:
    """Worker processes a test started; none survives it, whatever happened."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        if worker.alive():
            worker.kill()


def spawn(processes: list[WorkerProcess], settings: Settings, client_id: str, log: Path) -> (
    WorkerProcess
):  # fmt: skip
    worker = WorkerProcess(settings, client_id, log)
    processes.append(worker)
    worker.start()
    return worker


# --- the three faults ------------------------------------------------------------------------


def test_kill_9_mid_stream_and_restart_loses_and_doubles_nothing(own_stack, processes, tmp_path):
    fleet = register_fleet(own_stack)
    client_id = f"ingest-{uuid.uuid4().hex[:8]}"
    first = spawn(processes, own_stack, client_id, tmp_path / "ingest-1.log")
    publisher = AckedPublisher(own_stack, fleet)
    try:
        await_consuming(publisher, own_stack, fleet)
        with ThreadPoolExecutor(1) as pool:
            stream = pool.submit(publisher.publish_all, range(1, MESSAGES), PUBLISH_S)
            wait_rows(own_stack, fleet, int(FAULT_AT * MESSAGES * len(METRICS)), timeout=30)
            first.kill()
            acked_at_kill = publisher.acked_count()
            time.sleep(OUTAGE_S)  # the broker queues for the dead worker's session meanwhile
            stored_at_kill = count_rows(own_stack, fleet) or 0
            second = spawn(processes, own_stack, client_id, tmp_path / "ingest-2.log")
            stream.result(timeout=PUBLISH_S + 30)
        publisher.confirm(range(MESSAGES), timeout=30)
        settle(own_stack, fleet, MESSAGES * len(METRICS), alive=second.alive)
        assert second.alive(), f"the restarted worker exited:\n{second.tail()}"
        summary = second.stop()
    finally:
        publisher.close()
    print(f"kill -9: {acked_at_kill} messages acknowledged by the broker and {stored_at_kill} "
          f"readings stored at the kill; restarted worker: {summary}; "
          f"re-published: {publisher.resent}")  # fmt: skip
    # The kill left acknowledged-by-the-broker messages unstored: only the broker's queue for
    # the persistent session could hand them to the second worker.
    assert 0 < stored_at_kill < acked_at_kill * len(METRICS)
    assert_stored_exactly(own_stack, fleet)


def test_mosquitto_restart_mid_stream_keeps_every_queued_message(
    small_window_stack, processes, tmp_path
):
    """The broker saves its persistence file on SIGTERM and reloads it on start, so the
    ingest session (subscription, queue, unacknowledged in-flight messages) survives; the
    publisher's paho queue covers what is sent while the broker is down.

    The worker is frozen (SIGSTOP) for 1.5 s before the broker stops, as a slow consumer would
    be, so the broker holds a backlog for the session when it goes down. With the in-flight
    window at 500, most of that backlog is still in the broker's queue, not in the worker's
    socket buffer (which the worker reads after SIGCONT): only the broker's persistence can
    hand those messages over after the restart.
    """
    stack = small_window_stack
    fleet = register_fleet(stack)
    worker = spawn(processes, stack, f"ingest-{uuid.uuid4().hex[:8]}", tmp_path / "w.log")
    publisher = AckedPublisher(stack, fleet)
    broker = MosquittoService(stack)
    try:
        await_consuming(publisher, stack, fleet)
        with ThreadPoolExecutor(1) as pool:
            stream = pool.submit(publisher.publish_all, range(1, MESSAGES), PUBLISH_S)
            wait_rows(stack, fleet, int(FAULT_AT * MESSAGES * len(METRICS)), timeout=30)
            assert worker.proc is not None
            worker.proc.send_signal(signal.SIGSTOP)
            try:
                time.sleep(1.5)
                assert broker.stop()
                acked_at_stop = publisher.acked_count()
                stored_at_stop = count_rows(stack, fleet) or 0
                time.sleep(OUTAGE_S)
                broker.start()
            finally:
                worker.proc.send_signal(signal.SIGCONT)
            stream.result(timeout=PUBLISH_S + 30)
        publisher.confirm(range(MESSAGES), timeout=45)
        settle(stack, fleet, MESSAGES * len(METRICS), alive=worker.alive)
        assert worker.alive(), f"the worker did not survive the broker restart:\n{worker.tail()}"
        summary = worker.stop()
    finally:
        publisher.close()
    queued = acked_at_stop - stored_at_stop // len(METRICS) - SMALL_INFLIGHT
    print(f"mosquitto restart: {acked_at_stop} messages acknowledged by the broker and "
          f"{stored_at_stop} readings stored at the stop (at least {queued} messages in the "
          f"broker's queue); worker: {summary}; re-published: {publisher.resent}")  # fmt: skip
    assert queued > 0, "no backlog in the broker's queue: the restart proved nothing"
    assert_stored_exactly(stack, fleet)


def test_postgres_restart_mid_stream_keeps_the_batch_until_it_is_stored(
    own_stack, monkeypatch, caplog
):
    """The worker runs in this process so its registry reload can be brought forward: in
    production it reloads every 30 s, so any worker older than that meets a reload soon
    after the database came back; here it is every second, inside the test's time."""
    monkeypatch.setattr(registry_cache, "REFRESH_EVERY_S", 1.0)
    fleet = register_fleet(own_stack)
    running = start_worker(own_stack, fleet.tenant, f"ingest-{uuid.uuid4().hex[:8]}")
    publisher = AckedPublisher(own_stack, fleet)
    database = PostgresService(own_stack)
    try:
        await_consuming(publisher, own_stack, fleet)
        with ThreadPoolExecutor(1) as pool:
            stream = pool.submit(publisher.publish_all, range(1, MESSAGES), PUBLISH_S)
            stored_before = wait_rows(
                own_stack, fleet, int(FAULT_AT * MESSAGES * len(METRICS)), timeout=30
            )
            assert database.stop()
            time.sleep(OUTAGE_S)
            database.start()
            stream.result(timeout=PUBLISH_S + 30)
        publisher.confirm(range(MESSAGES), timeout=30)
        settle(own_stack, fleet, MESSAGES * len(METRICS), alive=running.thread.is_alive)
        alive = running.thread.is_alive()
    finally:
        publisher.close()
        running.stop.set()
        running.thread.join(timeout=30)
    stats = running.worker.stats
    print(f"postgres restart: {stored_before} readings stored before the stop; worker: "
          f"messages={stats.messages} readings={stats.readings} "
          f"inserted={stats.inserted}")  # fmt: skip
    assert "database unavailable" in caplog.text, "the outage never reached the writer"
    assert alive, "the ingest worker died after the database restart (see the log above)"
    assert_stored_exactly(own_stack, fleet)


def test_a_device_registered_after_a_postgres_restart_is_accepted(own_stack):
    """Unknown ids are looked up on the worker's own connection; after a database restart
    that look-up must reconnect, not turn a valid reading into a dead letter."""
    fleet = register_fleet(own_stack, devices=1)
    running = start_worker(own_stack, fleet.tenant, f"ingest-{uuid.uuid4().hex[:8]}")
    publisher = AckedPublisher(own_stack, fleet)
    try:
        await_consuming(publisher, own_stack, fleet)
        database = PostgresService(own_stack)
        assert database.stop()
        database.start()
        with psycopg.connect(own_stack.postgres_dsn, autocommit=True) as conn:
            upsert_device(conn, DeviceIn(id="aq-late", kind="air_quality_station",
                                         tenant_id=fleet.tenant))  # fmt: skip
            ts = datetime.now(UTC)
            info = publisher.client.publish(
                f"ioc/v1/{fleet.tenant}/aq-late/telemetry", telemetry(1, {"pm25": 7.5}, ts), qos=1
            )
            info.wait_for_publish(10)
            deadline = time.monotonic() + 20
            query = (
                "SELECT (SELECT count(*) FROM telemetry t JOIN devices d ON d.key = t.device_key"
                "        WHERE d.id = 'aq-late'),"
                "       (SELECT string_agg(reason || ': ' || detail, '; ') FROM dead_letters)"
            )
            while True:
                stored, dead = conn.execute(query).fetchone()  # type: ignore[misc]
                if stored or dead or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
    finally:
        publisher.close()
        running.halt()
    assert dead is None, f"a valid reading was dead-lettered: {dead}"
    assert stored == 1
