"""A throw-away private stack on free ports in its own folder: for benchmarks and tests.

It never meets a developer's ``var/`` stack or the system services, and it leaves nothing
behind: ``down`` on exit and the folder removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ioc_core.db import connect_db
from ioc_core.plugins import migrate_and_sync
from ioc_core.settings import Settings
from ioc_core.stack.control import stack_down, stack_up
from ioc_core.stack.processes import free_port


def temporary_var_dir() -> Path:
    """Under /var/tmp, world-traversable: PostgreSQL runs as ``postgres`` when we are root and
    could not enter a 0700 folder of root's (where ``tempfile`` would put it by default)."""
    base = os.environ.get("IOC_TEST_TMP", "/var/tmp")
    path = Path(tempfile.mkdtemp(prefix="ioc-tmp-", dir=base))
    path.chmod(0o755)
    return path


def temporary_settings(var_dir: Path, **overrides: object) -> Settings:
    fields: dict[str, Any] = {
        "environment": "test",
        "var_dir": var_dir,
        "pg_port": free_port(),
        "mqtt_port": free_port(),
        "mqtt_tls_port": free_port(),  # used only with mqtt_security="secure"
        "api_port": free_port(),
        "dashboard_port": free_port(),
        "ingest_metrics_port": 0,
        **overrides,
    }
    return Settings(_env_file=None, **fields)


@contextmanager
def temporary_stack(*, migrate: bool = True, **overrides: object) -> Iterator[Settings]:
    var_dir = temporary_var_dir()
    settings = temporary_settings(var_dir, **overrides)
    try:
        stack_up(settings)
        if migrate:
            with connect_db(settings) as conn:
                migrate_and_sync(conn)
        yield settings
    finally:
        stack_down(settings)
        shutil.rmtree(var_dir, ignore_errors=True)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child ``ioc`` process use these settings."""
    return {
        **os.environ,
        "IOC_VAR_DIR": str(settings.var_dir),
        "IOC_PG_HOST": settings.pg_host,
        "IOC_PG_PORT": str(settings.pg_port),
        "IOC_PG_DATABASE": settings.pg_database,
        "IOC_MQTT_HOST": settings.mqtt_host,
        "IOC_MQTT_PORT": str(settings.mqtt_port),
        "IOC_API_PORT": str(settings.api_port),
        "IOC_DASHBOARD_PORT": str(settings.dashboard_port),
        "IOC_INGEST_METRICS_PORT": str(settings.ingest_metrics_port),
        # MQTT security: a child must use the same broker mode, listeners and account.
        "IOC_MQTT_SECURITY": settings.mqtt_security,
        "IOC_MQTT_TLS_PORT": str(settings.mqtt_tls_port),
        "IOC_MQTT_MTLS_PORT": str(settings.mqtt_mtls_port),
        **({"IOC_MQTT_USERNAME": settings.mqtt_username} if settings.mqtt_username else {}),
        **({"IOC_MQTT_PASSWORD": settings.mqtt_password} if settings.mqtt_password else {}),
    }
