"""The broker's password and ACL files, generated from the registry and applied without a restart.

``sync_broker_auth`` is the one way credentials reach the broker: it reads every active account
(``broker_accounts`` view), writes both files atomically, rewrites the CRL, and signals the
managed Mosquitto with SIGHUP. Mosquitto then re-reads the files, drops clients whose password or
account is gone, and keeps every other connection, so adding, rotating or revoking a device
takes effect in well under a second. A throw-away probe account, with a fresh password in every
generation, proves the broker is really using the new files before the call returns.

ACL: one ``user`` block per device listing its own topics, rather than ``pattern`` lines with
``%u``. Patterns cannot name the tenant (there is no ``%tenant``), so they would have to allow
``ioc/v1/+/%u/...``; they also apply to every account, service accounts included. Explicit
blocks cost ~7 lines per device (a 10,000-device file is well under 1 MB and reloads in
milliseconds) and a revoked device loses its topics as well as its password.
"""

from __future__ import annotations

import logging
import secrets
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from psycopg import Connection

from devices.client_certs import revoked_serials
from devices.topics import Channel, Topic
from ioc_core.db import fetch_all, fetch_one
from ioc_core.errors import IocError, StackError
from ioc_core.settings import Settings
from ioc_core.stack.broker_files import (
    SERVICE_RULES,
    BrokerAccount,
    Role,
    acl_file_path,
    auth_lock,
    mosquitto_hash,
    password_file_path,
    render_acl_file,
    render_password_file,
    service_accounts,
    verify_mosquitto_hash,
    write_private_file,
)
from ioc_core.stack.mosquitto import MosquittoService
from ioc_core.stack.processes import ServiceUser
from ioc_core.stack.tls import TlsFiles, write_crl

__all__ = ["BrokerAuthError", "SyncResult", "device_rules", "sync_broker_auth"]

log = logging.getLogger(__name__)

PROBE_USERNAME = "ioc.reload-probe"
# The issue promises "within seconds"; Mosquitto applies a SIGHUP on its next loop turn
# (milliseconds), so 5 s only runs out when the broker is not ours or not listening.
APPLY_TIMEOUT_S = 5.0

DEVICE_PUBLISHES = (
    Channel.TELEMETRY,
    Channel.SENML,
    Channel.STATUS,
    Channel.EVENT,
    Channel.COMMAND_ACK,
)
DEVICE_SUBSCRIBES = (Channel.COMMAND,)


class BrokerAuthError(IocError):
    """The files could not be generated or applied; the broker keeps its previous files."""


@dataclass(frozen=True)
class SyncResult:
    mode: str
    devices: int
    services: int
    written: bool
    reloaded: bool  # SIGHUP sent, or the external reload command ran
    applied: bool  # a login with this generation's probe password succeeded

    def as_json(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "devices": self.devices,
            "services": self.services,
            "written": self.written,
            "reloaded": self.reloaded,
            "applied": self.applied,
        }


def device_rules(tenant: str, device_id: str) -> tuple[tuple[str, str], ...]:
    """Publish on its own device→IOC channels; subscribe only to its own command topic."""
    writes = [("write", str(Topic(tenant, device_id, c))) for c in DEVICE_PUBLISHES]
    reads = [("read", str(Topic(tenant, device_id, c))) for c in DEVICE_SUBSCRIBES]
    return (*writes, *reads)


def store_service_accounts(conn: Connection, settings: Settings) -> None:
    """Record the broker hash of each service account whose password this process knows."""
    with conn.transaction():
        for account in service_accounts(settings):
            row = fetch_one(
                conn,
                "SELECT username, broker_hash FROM broker_service_accounts WHERE role = %s",
                (account.role,),
            )
            if (
                row
                and row[0] == account.username
                and verify_mosquitto_hash(row[1], account.password)
            ):
                continue
            # The settings are newer than the table: a username moved to another role wins.
            conn.execute(
                "DELETE FROM broker_service_accounts WHERE username = %s AND role <> %s",
                (account.username, account.role),
            )
            conn.execute(
                """INSERT INTO broker_service_accounts (role, username, broker_hash)
                   VALUES (%s, %s, %s)
                   ON CONFLICT (role) DO UPDATE SET username = EXCLUDED.username,
                     broker_hash = EXCLUDED.broker_hash, updated_at = now()""",
                (account.role, account.username, mosquitto_hash(account.password)),
            )


def registry_accounts(conn: Connection) -> list[BrokerAccount]:
    rows = fetch_all(
        conn,
        "SELECT username, broker_hash, role, tenant_id, device_id FROM broker_accounts "
        "ORDER BY role = 'device', username",
    )
    accounts, seen = [], set()
    for username, broker_hash, role, tenant, device_id in rows:
        if username in seen:
            raise BrokerAuthError(
                f"broker username {username!r} is used twice (a device id equal to a service "
                "account's username?); rename one, nothing was written"
            )
        seen.add(username)
        rules = device_rules(tenant, device_id) if role == "device" else SERVICE_RULES[role]
        accounts.append(BrokerAccount(username, broker_hash, cast(Role, role), rules))
    return accounts


def sync_broker_auth(settings: Settings, conn: Connection) -> SyncResult:
    """Regenerate the broker's files from the registry and make the broker use them.

    In open mode the broker reads no such files, so nothing is done.
    """
    if not settings.mqtt_secure:
        return SyncResult("open", 0, 0, written=False, reloaded=False, applied=False)
    with auth_lock(settings):
        store_service_accounts(conn, settings)
        with conn.transaction():
            accounts = registry_accounts(conn)
            serials = revoked_serials(conn)
        probe_password = secrets.token_urlsafe(18)
        probe = BrokerAccount(PROBE_USERNAME, mosquitto_hash(probe_password), "probe")
        owner = _broker_user()
        write_private_file(
            password_file_path(settings), render_password_file([*accounts, probe]), owner=owner
        )
        write_private_file(
            acl_file_path(settings), render_acl_file([*accounts, probe]), owner=owner
        )
        if TlsFiles.for_settings(settings).ca_key.exists():
            write_crl(settings, revoked_serials=serials)
        reloaded = _reload(settings)
        applied = reloaded and _probe(settings, probe_password)
    devices = sum(a.role == "device" for a in accounts)
    result = SyncResult("secure", devices, len(accounts) - devices, True, reloaded, applied)
    if reloaded and not applied:
        log.warning(
            "broker files written to %s but a login with the new probe account failed within "
            "%.0f s; is the broker at %s using them?",
            settings.mqtt_dir,
            APPLY_TIMEOUT_S,
            settings.mqtt_url,
        )
    return result


def _broker_user() -> ServiceUser | None:
    """Root writes the files for the broker's own user, as ``ioc stack up`` does."""
    try:
        return ServiceUser.for_service("mosquitto")
    except StackError:
        return None  # an external broker on another machine; copy the files over


def _reload(settings: Settings) -> bool:
    if settings.manage_mqtt:
        return MosquittoService(settings).reload()
    if settings.mqtt_reload_command:
        try:
            subprocess.run(shlex.split(settings.mqtt_reload_command), check=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            raise BrokerAuthError(
                f"broker files written to {settings.mqtt_dir}, but IOC_MQTT_RELOAD_COMMAND "
                f"failed: {exc}"
            ) from exc
        return True
    log.warning(
        "broker files written to %s; reload the external broker to apply them "
        "(SIGHUP, or set IOC_MQTT_RELOAD_COMMAND)",
        settings.mqtt_dir,
    )
    return False


def _probe(settings: Settings, password: str) -> bool:
    """Log in with this generation's probe password until the broker accepts it."""
    deadline = time.monotonic() + APPLY_TIMEOUT_S
    while time.monotonic() < deadline:
        if _login(settings, password):
            return True
        time.sleep(0.05)
    return False


def _login(settings: Settings, password: str) -> bool:
    accepted, answered = threading.Event(), threading.Event()

    def on_connect(client: mqtt.Client, userdata: object, flags: object, reason: object,
                   properties: object) -> None:  # fmt: skip
        if not getattr(reason, "is_failure", True):
            accepted.set()
        answered.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    client.username_pw_set(PROBE_USERNAME, password)
    client.on_connect = on_connect
    try:
        client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=10)
    except OSError:
        return False
    client.loop_start()
    try:
        answered.wait(1.0)
        return accepted.is_set()
    finally:
        client.disconnect()
        client.loop_stop()
