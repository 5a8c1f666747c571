"""A live wall for browser tests: real stack, ingest, simulated stations, API and Dash server,
each in its own process as ``make demo`` runs them."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ioc_api.auth.accounts import create_user
from ioc_api.auth.principal import Role
from ioc_core.settings import Settings
from ioc_core.stack.processes import free_port
from ioc_core.stack.temporary import settings_env
from simulators.air_quality import AirQualityFleet
from tests.conftest import api_key_headers
from tests.ingest.conftest import start_worker, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
STATIONS = 24
PASSWORD = "wall-test-password-1"
# Signed-in people of the tests: an operator (alerts, commands) and environment staff (rules).
USERS = {"op": "operator", "env": "environment_staff"}


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url} server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout}s: {log.read_text()[-2000:]}")


@dataclass
class Wall:
    url: str
    api_url: str
    settings: Settings


@pytest.fixture
def live_wall(db_settings: Settings, conn, tenant: str, tmp_path: Path) -> Iterator[Wall]:
    # Ports taken now, not at session start, so nothing else can have grabbed them since.
    db_settings = db_settings.model_copy(
        update={"api_port": free_port(), "dashboard_port": free_port()}
    )
    for username, role in USERS.items():
        create_user(conn, username=username, password=PASSWORD, role=Role(role))
    env = {
        **settings_env(db_settings),
        "IOC_WALL_API_KEY": api_key_headers(conn, "viewer")["X-API-Key"],
        "IOC_WALL_REFRESH_MS": "2000",
    }
    procs: list[subprocess.Popen[bytes]] = []
    ingest = start_worker(db_settings, tenant, f"ingest-{tenant}")
    fleet = AirQualityFleet(db_settings, stations=STATIONS, interval_s=1.0, tenant=tenant)
    stop = threading.Event()
    fleet.start()
    runner = threading.Thread(target=fleet.run, args=(stop,), daemon=True)
    runner.start()
    try:
        for name, argv, url in (
            ("api", [sys.executable, "-m", "ioc_core.cli.main", "api", "run"],
             f"{db_settings.api_url}/health"),
            ("wall", [sys.executable, "-m", "ioc_dashboard"],
             f"http://{db_settings.dashboard_host}:{db_settings.dashboard_port}/"),
        ):  # fmt: skip
            log = tmp_path / f"{name}.log"
            with log.open("wb") as out:
                procs.append(subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT))
            _wait_http(url, procs[-1], log)
        wait_for(conn, "SELECT count(DISTINCT device_key) FROM telemetry", STATIONS)
        yield Wall(
            url=f"http://{db_settings.dashboard_host}:{db_settings.dashboard_port}/",
            api_url=db_settings.api_url,
            settings=db_settings,
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(15)
        stop.set()
        runner.join(10)
        fleet.close()
        ingest.halt()
