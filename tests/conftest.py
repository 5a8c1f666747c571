"""Real services for the whole suite, the psycopg way.

One private stack (PostgreSQL + TimescaleDB, Mosquitto) per pytest run, started by the same
code as ``ioc stack up`` on free ports in its own folder, so it never meets a developer's demo
or the system services. Migrations run once into a template database; each test that asks for
``db_settings`` gets its own database cloned from it, and tests that use MQTT get their own
tenant (topic prefix) and client ids.
"""

from __future__ import annotations

import queue
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ioc_core.errors import IocError
from ioc_core.plugins import migrate_and_sync
from ioc_core.settings import Settings
from ioc_core.stack import stack_down, stack_up
from ioc_core.stack.mosquitto import MosquittoService
from ioc_core.stack.temporary import temporary_settings, temporary_var_dir

TEMPLATE_DB = "ioc_template"
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ARTIFACTS = REPO / "test-artifacts"


def make_var_dir() -> Path:
    return temporary_var_dir()


def stack_settings(var_dir: Path, **overrides: object) -> Settings:
    """Free ports for everything, metrics endpoints off: tests run side by side."""
    return temporary_settings(var_dir, **overrides)


class Clones:
    """Databases cloned from the template one step ahead of the tests, on a thread of their own.

    A clone costs 0.3-0.6 s (``CREATE DATABASE ... TEMPLATE`` copies ~10 MB through the WAL),
    and some 350 tests each take one: made while the previous test runs, most of that time is
    hidden. Each test still gets a brand-new database that nothing else has touched.
    """

    AHEAD = 2

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=self.AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="db-clones", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with psycopg.connect(self._settings.dsn_for("postgres"), autocommit=True) as admin:
                while not self._stop.is_set():
                    name = f"t_{uuid.uuid4().hex[:12]}"
                    admin.execute(
                        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                            sql.Identifier(name), sql.Identifier(TEMPLATE_DB)
                        )
                    )
                    while True:
                        try:
                            self._ready.put(name, timeout=0.2)
                            break
                        except queue.Full:
                            if self._stop.is_set():
                                _drop(admin, name)
                                return
        except BaseException as exc:  # the test that waits for a database reports it
            self._ready.put(exc)

    def take(self) -> str:
        got = self._ready.get(timeout=120)
        if isinstance(got, BaseException):
            self._ready.put(got)  # every later test fails the same way, not with a timeout
            raise RuntimeError(f"could not clone the template database: {got}") from got
        return got

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        with psycopg.connect(self._settings.dsn_for("postgres"), autocommit=True) as admin:
            while True:
                try:
                    got = self._ready.get_nowait()
                except queue.Empty:
                    return
                if isinstance(got, str):
                    _drop(admin, got)


def _drop(admin: psycopg.Connection, name: str) -> None:
    admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    var_dir = make_var_dir()
    settings = stack_settings(var_dir)
    try:
        stack_up(settings)
    except IocError as exc:
        stack_down(settings)
        pytest.exit(f"could not start the test stack: {exc}", returncode=3)
    try:
        with psycopg.connect(settings.dsn_for("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
        with psycopg.connect(settings.dsn_for(TEMPLATE_DB)) as conn:
            migrate_and_sync(conn)
        _seal_template(settings)
        yield settings
    finally:
        stack_down(settings)
        shutil.rmtree(var_dir, ignore_errors=True)


def _seal_template(settings: Settings) -> None:
    """TimescaleDB's scheduler keeps a connection open to every database, and CREATE DATABASE
    refuses a template in use; closing the template to connections keeps the scheduler out."""
    with psycopg.connect(settings.dsn_for("postgres"), autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                sql.Identifier(TEMPLATE_DB)
            )
        )
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (TEMPLATE_DB,),
        )


@pytest.fixture(scope="session")
def clones(stack: Settings) -> Iterator[Clones]:
    pool = Clones(stack)
    yield pool
    pool.close()


@pytest.fixture
def db_settings(stack: Settings, clones: Clones) -> Iterator[Settings]:
    """Settings pointing at a brand-new database of this test's own, schema and reference
    data already in place (cloned from the migrated template, ahead of time)."""
    name = clones.take()
    yield stack.model_copy(update={"pg_database": name})
    with psycopg.connect(stack.dsn_for("postgres"), autocommit=True) as admin:
        _drop(admin, name)


@pytest.fixture
def conn(db_settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_settings.postgres_dsn, autocommit=True) as connection:
        yield connection


@pytest.fixture
def tenant() -> str:
    """A tenant id of this test's own: its MQTT topics cannot meet another test's."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that takes a database fixture is a ``db`` test, whatever its author remembered."""
    for item in items:
        if {"stack", "db_settings", "conn"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


def api_key_headers(conn: psycopg.Connection, role: str = "operator", tenant: str | None = None):
    """Headers of a fresh API key: how the tests call the API as someone in particular."""
    from ioc_api.auth.accounts import create_api_key
    from ioc_api.auth.principal import Role

    key, _ = create_api_key(conn, name=f"test-{role}", role=Role(role), tenant_id=tenant)
    return {"X-API-Key": key}


@pytest.fixture
def operator_headers(conn: psycopg.Connection) -> dict[str, str]:
    return api_key_headers(conn)


@pytest.fixture
def private_broker() -> Iterator[tuple[Settings, MosquittoService]]:
    """A Mosquitto of the test's own (free port, own folder), which it may stop and start
    without disturbing the suite's shared broker or anyone else."""
    var_dir = temporary_var_dir()
    settings = temporary_settings(var_dir)
    broker = MosquittoService(settings)
    broker.start()
    try:
        yield settings, broker
    finally:
        broker.stop()
        shutil.rmtree(var_dir, ignore_errors=True)
