"""``ioc stack up | down | status``: start, stop and report the private services together.

``up`` either brings every managed service up and health-checked, or leaves nothing it
started running; ``down`` stops only processes recorded by ``up``.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import psycopg

from ioc_core.errors import StackError
from ioc_core.settings import Settings
from ioc_core.stack.mosquitto import MosquittoService, broker_reachable
from ioc_core.stack.postgres import PostgresService
from ioc_core.stack.processes import require_free_port


@dataclass
class ServiceState:
    managed: bool
    running: bool
    pid: int | None = None


@dataclass
class StackStatus:
    postgres_dsn: str
    mqtt_host: str
    mqtt_port: int
    running: bool
    services: dict[str, ServiceState] = field(default_factory=dict)
    already_running: bool = False
    started: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("already_running")
        data.pop("started")
        data["mqtt_url"] = f"mqtt://{self.mqtt_host}:{self.mqtt_port}"
        return data


@contextmanager
def _stack_lock(settings: Settings) -> Iterator[None]:
    """Two concurrent ``up`` calls must not both initdb the same directory."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with (settings.run_dir / "stack.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _postgres_reachable(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def stack_status(settings: Settings) -> StackStatus:
    services: dict[str, ServiceState] = {}
    if settings.manage_postgres:
        pid = PostgresService(settings).running_pid()
        services["postgres"] = ServiceState(managed=True, running=pid is not None, pid=pid)
    else:
        services["postgres"] = ServiceState(False, _postgres_reachable(settings.postgres_dsn))
    if settings.manage_mqtt:
        pid = MosquittoService(settings).running_pid()
        services["mqtt"] = ServiceState(managed=True, running=pid is not None, pid=pid)
    else:
        reachable = broker_reachable(settings.mqtt_host, settings.mqtt_port)
        services["mqtt"] = ServiceState(managed=False, running=reachable)
    return StackStatus(
        postgres_dsn=settings.postgres_dsn,
        mqtt_host=settings.mqtt_host,
        mqtt_port=settings.mqtt_port,
        running=all(s.running for s in services.values()),
        services=services,
    )


def stack_up(settings: Settings) -> StackStatus:
    with _stack_lock(settings):
        pg = PostgresService(settings) if settings.manage_postgres else None
        mq = MosquittoService(settings) if settings.manage_mqtt else None
        to_start = [svc for svc in (pg, mq) if svc is not None and svc.running_pid() is None]
        # Check everything before starting anything, so a taken port leaves nothing half-up.
        for svc in to_start:
            svc.check_installed()
        if pg in to_start:
            require_free_port(
                settings.pg_host, settings.pg_port, setting="IOC_PG_PORT", service="PostgreSQL"
            )
        if mq in to_start:
            require_free_port(
                settings.mqtt_host, settings.mqtt_port, setting="IOC_MQTT_PORT", service="Mosquitto"
            )
        started: list[PostgresService | MosquittoService] = []
        try:
            for svc in to_start:
                svc.start()
                started.append(svc)
        except BaseException:
            for svc in reversed(started):
                svc.stop()
            raise
        status = stack_status(settings)
        if not status.running:
            raise StackError(f"stack is not healthy after start: {status.as_json()}")
        status.already_running = not to_start
        status.started = [svc.name for svc in started]
        return status


def stack_down(settings: Settings) -> list[str]:
    """Stop what ``up`` recorded; returns the names of the services that were stopped."""
    with _stack_lock(settings):
        stopped = []
        # Broker first: producers lose their endpoint before the database goes away.
        for svc in (MosquittoService(settings), PostgresService(settings)):
            if svc.stop():
                stopped.append(svc.name)
        return stopped
