"""``ioc simulate`` with no broker listening: one clear line and exit code 1, not a traceback.

The database is the test stack's (the fleet registers first, as in production); the broker port
is a free one where nothing listens, so the links can never connect.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from ioc_core.settings import Settings
from ioc_core.stack.processes import free_port
from ioc_core.stack.temporary import settings_env


@pytest.mark.timeout(120)
def test_an_unreachable_broker_is_one_line_naming_it_and_the_wait(db_settings: Settings) -> None:
    port = free_port()
    env = settings_env(db_settings) | {
        "IOC_PG_DATABASE": db_settings.pg_database,
        "IOC_MQTT_PORT": str(port),
    }
    t = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "ioc_core.cli.main", "simulate", "--scenario", "pollution",
         "--seconds", "5", "--connect-timeout", "2"],
        env=env, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    wall = time.monotonic() - t
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.stderr
    assert f"127.0.0.1:{port}" in errors[0] and "after 2 s" in errors[0], errors[0]
    assert "36 of 36 simulator links not connected" in errors[0], errors[0]
    # Registration and start-up take a few seconds; the wait itself is the 2 s asked for,
    # not the default 60 s + 0.2 s per link.
    assert wall < 30, f"took {wall:.1f} s"
