"""``ioc demo`` as a user runs it: the simulated city online, then Ctrl-C leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import httpx
import psycopg
import pytest

from ioc_core.stack.processes import pid_alive
from ioc_core.stack.temporary import settings_env
from tests.conftest import api_key_headers, make_var_dir, stack_settings

pytestmark = [pytest.mark.db, pytest.mark.broker, pytest.mark.slow]

DEVICES = 60  # city_counts(60): a few of each kind, lights behind one cabinet


def _descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,sid="], capture_output=True, text=True).stdout
    rows = [tuple(map(int, line.split())) for line in out.splitlines()]
    found, frontier = set(), {pid}
    while frontier:
        children = {p for p, pp, _ in rows if pp in frontier} - found
        found |= children
        frontier = children
    return found


def _operator_key(settings) -> dict[str, str]:
    """Our own key, made in the demo's database once its migrations have run."""
    with psycopg.connect(settings.postgres_dsn, autocommit=True, connect_timeout=2) as conn:
        return api_key_headers(conn)


def test_demo_runs_the_city_and_ctrl_c_stops_everything():
    var_dir = make_var_dir()
    s = stack_settings(var_dir)
    env = settings_env(s)
    demo = subprocess.Popen(
        [sys.executable, "-m", "ioc_core.cli.main", "demo", f"--devices={DEVICES}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline, online, headers, kinds = time.monotonic() + 150, 0, None, set()
        missing: list[str] = []
        while time.monotonic() < deadline and online < DEVICES:
            assert demo.poll() is None, demo.stdout.read() if demo.stdout else ""
            try:
                headers = headers or _operator_key(s)
                response = httpx.get(f"{s.api_url}/devices", headers=headers, timeout=2)
                items = response.json()["items"]
                online = sum(d["status"] == "online" for d in items)
                kinds = {d["kind"] for d in items if d["status"] == "online"}
                missing = [f"{d['id']}:{d['status']}" for d in items if d["status"] != "online"]
            except (httpx.HTTPError, psycopg.Error, KeyError):
                pass
            time.sleep(0.5)
        assert online == DEVICES, missing
        assert len(kinds) == 8  # every kind of the catalogue is in the demo city
        assert httpx.get(f"http://127.0.0.1:{s.dashboard_port}/", timeout=5).status_code == 200
        started = _descendants(demo.pid)
        started |= {
            int((var_dir / "run" / f).read_text()) for f in ("postgres.pid", "mosquitto.pid")
        }
        assert len(started) >= 6  # api, ingest, wall, simulator, postgres, mosquitto (+ workers)

        demo.send_signal(signal.SIGINT)  # what Ctrl-C on the terminal sends
        output, _ = demo.communicate(timeout=60)
        assert demo.returncode == 0, output
        assert "demo stopped" in output
        time.sleep(0.5)
        assert [p for p in started if pid_alive(p)] == []
    finally:
        if demo.poll() is None:  # a failed assertion: stop it the way a user would, then kill
            leftover = _descendants(demo.pid)
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=30)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()
            # its components run in sessions of their own: a killed demo would orphan them
            for pid in leftover:
                if pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)
        subprocess.run(
            [sys.executable, "-m", "ioc_core.cli.main", "stack", "down"], env=env, check=False
        )
        shutil.rmtree(var_dir, ignore_errors=True)
