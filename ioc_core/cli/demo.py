"""``ioc demo``: the whole stack with simulated devices and the wall, in one command."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import httpx
import typer

from ioc_core.cli.common import fail_cleanly, settings_from_env
from ioc_core.errors import IocError
from ioc_core.settings import Settings
from ioc_core.supervisor import Supervisor


class _StopRequestedError(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequestedError


def _ioc() -> str:
    return shutil.which("ioc") or f"{sys.executable} -m ioc_core.cli.main"


def _wait_http(url: str, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def _wait_file(path: Path, *, timeout: float, sup: Supervisor) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not sup.dead():
        if path.exists():
            return True
        time.sleep(0.1)
    return path.exists()


def _api_key(ioc: list[str], name: str, role: str) -> str:
    """A fresh API key, made through `ioc accounts` (ioc_core does not import the API)."""
    out = subprocess.run(
        [*ioc, "accounts", "create-key", name, "--role", role, "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise IocError(f"could not create the demo's {role} API key: {out.stderr.strip()}")
    return str(json.loads(out.stdout)["key"])


def _demo_user(ioc: list[str], role: str) -> tuple[str, str]:
    """A fresh user to sign in to the wall with; a new name each run, since a restarted demo
    keeps the accounts of the last one and passwords are never shown twice."""
    username = f"demo-{role.replace('_', '-')}-{secrets.token_hex(2)}"
    password = secrets.token_urlsafe(12)
    out = subprocess.run(
        [*ioc, "accounts", "add-user", username, "--role", role, "--password-stdin"],
        input=password + "\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise IocError(f"could not create the demo's {role} user: {out.stderr.strip()}")
    return username, password


def _online_count(settings: Settings, key: str) -> int:
    try:
        response = httpx.get(f"{settings.api_url}/devices", headers={"X-API-Key": key}, timeout=5)
        items = response.json()["items"]
    except (httpx.HTTPError, KeyError, ValueError):
        return 0
    return sum(1 for d in items if d["status"] == "online")


@fail_cleanly
def demo(
    devices: int = typer.Option(
        3000, min=8, help="Simulated devices, composed like the city (all 8 kinds, 114 units)."
    ),
    scenario: str = typer.Option("standard", help="Scenario whose baseline and incidents play."),
    seed: int = typer.Option(1, help="Same seed, same city."),
    keep_stack: bool = typer.Option(False, help="Leave PostgreSQL and Mosquitto running on exit."),
) -> None:
    from ioc_core.db import connect_db
    from ioc_core.plugins import after_migrate, migrate_and_sync
    from ioc_core.stack import stack_down, stack_up

    settings = settings_from_env()
    stack_up(settings)
    with connect_db(settings) as conn:
        migrate_and_sync(conn)
        after_migrate(settings, conn)
    ioc = _ioc().split()
    logs = settings.log_dir
    wall_key = _api_key(ioc, "demo-wall", "viewer")
    operator_key = _api_key(ioc, "demo-operator", "operator")
    users = [_demo_user(ioc, role) for role in ("operator", "environment_staff")]
    sup = Supervisor(env={**os.environ, "IOC_WALL_API_KEY": wall_key})
    old_int = signal.signal(signal.SIGINT, _raise_stop)
    old_term = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        sup.start("api", [*ioc, "api", "run"], logs / "api.log")
        ingest_ready = settings.run_dir / "ingest.ready"
        ingest_ready.unlink(missing_ok=True)  # a last run's
        sup.start("ingest", [*ioc, "ingest", "run", f"--ready-file={ingest_ready}"],
                  logs / "ingest.log")  # fmt: skip
        sup.start("control", [*ioc, "ingest", "control"], logs / "control.log")
        sup.start("analytics", [*ioc, "analytics", "run"], logs / "analytics.log")
        sup.start("alerts", [*ioc, "analytics", "alerts", "run"], logs / "alerts.log")
        sup.start("wall", [sys.executable, "-m", "ioc_dashboard"], logs / "wall.log")
        # The simulated devices publish within seconds of starting, street lights then only
        # every 15 minutes; on a new broker a reading sent before ingest's first subscription
        # reaches no one, so the city starts once ingest listens.
        if not _wait_file(ingest_ready, timeout=60, sup=sup):
            raise IocError(f"ingest did not subscribe to the broker; see {logs}/ingest.log")
        sup.start(
            "simulator",
            [*ioc, "simulate", f"--devices={devices}", f"--scenario={scenario}", "--speed=1",
             f"--seed={seed}", "--prompt", "--no-progress"],
            logs / "simulator.log",
        )  # fmt: skip
        wall_url = f"http://{settings.dashboard_host}:{settings.dashboard_port}/"
        if not _wait_http(f"{settings.api_url}/health", timeout=60):
            raise IocError(f"the API did not answer at {settings.api_url}; see {logs}/api.log")
        if not _wait_http(wall_url, timeout=60):
            raise IocError(f"the wall did not answer at {wall_url}; see {logs}/wall.log")
        typer.echo(
            "\nHai Phong IOC demo is running.\n"
            f"  wall:      {wall_url}\n"
            f"  API:       {settings.api_url}  (docs: {settings.api_url}/docs)\n"
            f"  devices:   {settings.api_url}/devices\n"
            f"  API key:   {operator_key}  (operator, for trying the API:"
            " curl -H 'X-API-Key: <key>' ...)\n"
            + "".join(f"  sign in:   {u} / {p}\n" for u, p in users)
            + f"  MQTT:      {settings.mqtt_url}\n"
            f"  database:  {settings.postgres_dsn}\n"
            f"  logs:      {logs}/\n"
            "Press Ctrl-C to stop everything.\n"
        )
        reported = -1
        while True:
            if dead := sup.dead():
                names = ", ".join(f"{c.name} (exit {c.proc.returncode})" for c in dead if c.proc)
                raise IocError(f"stopped because a component exited: {names}; logs in {logs}/")
            online = _online_count(settings, wall_key)
            if online != reported:
                typer.echo(f"devices online: {online}/{devices}")
                reported = online
            time.sleep(5)
    except _StopRequestedError:
        typer.echo("\nstopping…")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sup.stop_all()
        if not keep_stack:
            stack_down(settings)
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        typer.echo("demo stopped; no process left behind")
