"""Broker authorisation against a real secure Mosquitto 2.0: accounts, ACL, reload, TLS, mTLS.

One secure broker for the module (its own folder and ports, the session's PostgreSQL with a
database of its own); every test registers devices of its own tenant, so tests cannot see each
other's topics or accounts.
"""

from __future__ import annotations

import base64
import json
import queue
import shutil
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
import typer
from paho.mqtt.enums import CallbackAPIVersion
from psycopg import sql
from typer.testing import CliRunner

from devices.broker_auth import device_rules, sync_broker_auth
from devices.cli_access import add_device_cmd, cert_cmd, revoke_cmd, rotate_cmd
from devices.credentials import (
    CredentialError,
    IssuedCredentials,
    issue_credentials,
    revoke_credentials,
    rotate_credentials,
    verify_device_password,
)
from devices.registry import DeviceIn, ensure_tenant, upsert_device
from ioc_core.db import connect_db
from ioc_core.settings import Settings
from ioc_core.stack import stack_down, stack_up
from ioc_core.stack.broker_files import (
    BrokerAccount,
    mosquitto_hash,
    render_acl_file,
    verify_mosquitto_hash,
)
from ioc_core.stack.mosquitto import MosquittoService
from ioc_core.stack.processes import free_port
from ioc_core.stack.tls import TlsFiles, ensure_ca_and_server_cert, issue_client_certificate
from simulators.air_quality import AirQualityFleet
from tests.conftest import TEMPLATE_DB, make_var_dir, stack_settings

pytestmark = [pytest.mark.db, pytest.mark.broker]

INGEST_PASSWORD = "ingest-" + uuid.uuid4().hex
API_PASSWORD = "api-" + uuid.uuid4().hex
APPLIED_WITHIN_S = 5.0


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secure(stack: Settings) -> Iterator[Settings]:
    """A secure Mosquitto (plain, TLS and mutual-TLS listeners) over a migrated database."""
    database = f"sec_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(stack.dsn_for("postgres"), autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(database), sql.Identifier(TEMPLATE_DB)
            )
        )
    var_dir = make_var_dir()
    settings = stack_settings(
        var_dir,
        manage_postgres=False,
        IOC_POSTGRES_DSN=stack.dsn_for(database),
        mqtt_security="secure",
        mqtt_mtls_port=free_port(),
        mqtt_ingest_password=INGEST_PASSWORD,
        mqtt_api_password=API_PASSWORD,
    )
    try:
        stack_up(settings)
        with connect_db(settings) as conn:
            sync_broker_auth(settings, conn)
        yield settings
    finally:
        stack_down(settings)
        shutil.rmtree(var_dir, ignore_errors=True)
        with psycopg.connect(stack.dsn_for("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))


def _env(s: Settings) -> dict[str, str]:
    return {
        "IOC_ENVIRONMENT": "test",
        "IOC_VAR_DIR": str(s.var_dir),
        "IOC_MANAGE_POSTGRES": "false",
        "IOC_POSTGRES_DSN": s.postgres_dsn,
        "IOC_MQTT_HOST": s.mqtt_host,
        "IOC_MQTT_PORT": str(s.mqtt_port),
        "IOC_MQTT_SECURITY": "secure",
        "IOC_MQTT_TLS_PORT": str(s.mqtt_tls_port),
        "IOC_MQTT_MTLS_PORT": str(s.mqtt_mtls_port),
    }


def _cli() -> typer.Typer:
    """The commands on a local app, as the lead registers them on ``ioc devices``."""
    app = typer.Typer()
    app.command("add")(add_device_cmd)
    app.command("revoke")(revoke_cmd)
    app.command("rotate")(rotate_cmd)
    app.command("cert")(cert_cmd)
    return app


def _register(s: Settings, tenant: str, *names: str) -> dict[str, IssuedCredentials]:
    with connect_db(s) as conn:
        ensure_tenant(conn, tenant, "Test tenant")
        for name in names:
            upsert_device(conn, DeviceIn(id=name, kind="air_quality_station", tenant_id=tenant))
        conn.commit()
        issued = {name: issue_credentials(conn, name) for name in names}
        assert sync_broker_auth(s, conn).applied
    return issued


def _ids(*names: str) -> list[str]:
    suffix = uuid.uuid4().hex[:8]
    return [f"{name}-{suffix}" for name in names]


# --- an MQTT client that records what happens to it ---------------------------------------------


class Probe:
    """A paho client that remembers its CONNACK, its messages and whether it was dropped."""

    def __init__(
        self,
        s: Settings,
        username: str | None = None,
        password: str | None = None,
        *,
        port: int | None = None,
        tls: dict[str, str] | None = None,
    ) -> None:
        self.accepted = threading.Event()
        self.answered = threading.Event()
        self.dropped = threading.Event()
        self.subscribed = threading.Event()
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:10]}"
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls is not None:
            self.client.tls_set(**tls)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self.dropped.set()
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.messages.put((m.topic, m.payload))
        self.host, self.port = s.mqtt_host, port or s.mqtt_port

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if not reason.is_failure:
            self.accepted.set()
        self.answered.set()

    def connect(self, timeout: float = 3.0) -> bool:
        """True only on a successful CONNACK; a refusal, a TLS failure or silence is False."""
        try:
            self.client.connect(self.host, self.port, keepalive=10)
        except (OSError, ssl.SSLError):
            return False
        self.client.loop_start()
        deadline = time.monotonic() + timeout
        while not (self.answered.is_set() or self.dropped.is_set()):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if not self.accepted.is_set():
            self.close()
        return self.accepted.is_set()

    def subscribe(self, topic: str) -> None:
        self.subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(3)

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(3)

    def received(self, wait: float = 0.5) -> list[tuple[str, bytes]]:
        got, deadline = [], time.monotonic() + wait
        while True:
            try:
                got.append(self.messages.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                return got

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _login(s: Settings, username: str | None, password: str | None, **kw: object) -> bool:
    probe = Probe(s, username, password, **kw)  # type: ignore[arg-type]
    ok = probe.connect()
    probe.close()
    return ok


@pytest.fixture
def ingest(secure: Settings) -> Iterator[Probe]:
    probe = Probe(secure, secure.mqtt_ingest_username, INGEST_PASSWORD)
    assert probe.connect()
    probe.subscribe("ioc/v1/#")
    yield probe
    probe.close()


# --- the password file format ---------------------------------------------------------------


def test_python_hash_is_byte_for_byte_what_mosquitto_passwd_writes(tmp_path: Path):
    pwfile = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pwfile), "aq-001", "s3cret"], check=True)
    username, stored = pwfile.read_text().strip().split(":", 1)
    salt = base64.b64decode(stored.split("$")[3])
    assert username == "aq-001"
    assert mosquitto_hash("s3cret", salt=salt) == stored
    assert verify_mosquitto_hash(stored, "s3cret") and not verify_mosquitto_hash(stored, "x")


def test_open_mode_is_refused_in_production():
    with pytest.raises(ValueError, match="IOC_MQTT_SECURITY=open"):
        Settings(_env_file=None, environment="production", mqtt_security="open")
    assert Settings(_env_file=None, environment="production").mqtt_security == "secure"
    assert Settings(_env_file=None, environment="test").mqtt_security == "open"


# --- authentication ---------------------------------------------------------------------------


def test_a_python_written_password_file_is_accepted_by_mosquitto(secure, tenant):
    (a,) = _ids("a")
    creds = _register(secure, tenant, a)[a]
    assert creds.username == a
    assert _login(secure, creds.username, creds.password)


def test_no_credentials_is_refused(secure):
    assert not _login(secure, None, None)


def test_wrong_password_is_refused(secure, tenant):
    (a,) = _ids("a")
    _register(secure, tenant, a)
    assert not _login(secure, a, "not-the-password")


def test_tls_listener_with_the_project_ca(secure, tenant):
    (a,) = _ids("a")
    creds = _register(secure, tenant, a)[a]
    ca = {"ca_certs": str(TlsFiles.for_settings(secure).ca_cert)}
    assert _login(secure, a, creds.password, port=secure.mqtt_tls_port, tls=ca)
    assert not _login(secure, a, "wrong", port=secure.mqtt_tls_port, tls=ca)


# --- authorisation ------------------------------------------------------------------------------


def test_a_device_publishing_on_another_devices_topic_never_reaches_a_subscriber(
    secure, tenant, ingest
):
    a, b = _ids("a", "b")
    creds = _register(secure, tenant, a, b)
    device_a = Probe(secure, a, creds[a].password)
    assert device_a.connect()
    device_a.publish(f"ioc/v1/{tenant}/{b}/telemetry", "forged by a")
    device_a.publish(f"ioc/v1/{tenant}/{b}/command_ack", "forged by a")
    device_a.publish(f"ioc/v1/{tenant}/{a}/telemetry", "a's own")  # same connection: after
    device_a.close()
    got = ingest.received(wait=1.5)
    assert (f"ioc/v1/{tenant}/{a}/telemetry", b"a's own") in got
    assert [t for t, _ in got if f"/{b}/" in t] == []


def test_a_device_subscribed_to_another_devices_command_topic_receives_nothing(secure, tenant):
    a, b = _ids("a", "b")
    creds = _register(secure, tenant, a, b)
    device_a = Probe(secure, a, creds[a].password)
    assert device_a.connect()
    device_a.subscribe(f"ioc/v1/{tenant}/{b}/command")
    device_a.subscribe(f"ioc/v1/{tenant}/{a}/command")
    dispatcher = Probe(secure, secure.mqtt_api_username, API_PASSWORD)
    assert dispatcher.connect()
    dispatcher.publish(f"ioc/v1/{tenant}/{b}/command", "for b")
    dispatcher.publish(f"ioc/v1/{tenant}/{a}/command", "for a")
    dispatcher.close()
    got = device_a.received(wait=1.5)
    device_a.close()
    assert got == [(f"ioc/v1/{tenant}/{a}/command", b"for a")]


def test_ingest_account_may_read_but_not_publish(secure, tenant, ingest):
    (a,) = _ids("a")
    _register(secure, tenant, a)
    ingest.publish(f"ioc/v1/{tenant}/{a}/telemetry", "not a device")
    assert ingest.received(wait=1.0) == []


# --- lifecycle: add, rotate, revoke, applied by reload ---------------------------------------


def test_add_prints_the_password_once_and_takes_effect_within_seconds(secure, tenant, monkeypatch):
    for key, value in _env(secure).items():
        monkeypatch.setenv(key, value)
    (a,) = _ids("a")
    started = time.monotonic()
    result = CliRunner().invoke(
        _cli(),
        ["add", "--id", a, "--kind", "air_quality_station", "--tenant", tenant,
         "--tenant-name", "Test tenant", "--commune", "An Dương", "--lat", "20.86",
         "--lon", "106.6", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {"id", "username", "password", "telemetry_topic", "command_topic"} <= out.keys()
    assert out["telemetry_topic"] == f"ioc/v1/{tenant}/{a}/telemetry"
    assert out["command_topic"] == f"ioc/v1/{tenant}/{a}/command"
    assert out["broker"]["applied"] is True
    assert _login(secure, out["username"], out["password"])
    assert time.monotonic() - started < APPLIED_WITHIN_S

    # Stored hashed only; a second add of the same device does not print a new password.
    with connect_db(secure) as conn:
        (stored,) = conn.execute(
            "SELECT password_hash FROM device_credentials WHERE device_id = %s", (a,)
        ).fetchone()
        assert out["password"] not in stored and stored.startswith("scrypt$")
        assert verify_device_password(conn, a, out["password"])
    again = CliRunner().invoke(
        _cli(),
        ["add", "--id", a, "--kind", "air_quality_station", "--tenant", tenant,
         "--lat", "20.86", "--lon", "106.6", "--json"],
    )  # fmt: skip
    assert again.exit_code == 1 and "rotate" in again.output


def test_add_refuses_an_unknown_tenant_kind_or_commune(secure, tenant, monkeypatch):
    for key, value in _env(secure).items():
        monkeypatch.setenv(key, value)
    (a,) = _ids("a")
    base = ["add", "--id", a, "--lat", "20.8", "--lon", "106.6", "--json"]
    cases = [
        (["--kind", "air_quality_station", "--tenant", tenant], "not registered"),
        (["--kind", "toaster", "--tenant", tenant, "--tenant-name", "T"], "no device profile"),
        (
            ["--kind", "air_quality_station", "--tenant", tenant, "--tenant-name", "T",
             "--commune", "Atlantis"],
            "no Hai Phong commune",
        ),
    ]  # fmt: skip
    for extra, message in cases:
        result = CliRunner().invoke(_cli(), base + extra)
        assert result.exit_code == 1 and message in result.output, result.output


def test_rotation_refuses_the_old_password_and_accepts_the_new(secure, tenant, monkeypatch):
    for key, value in _env(secure).items():
        monkeypatch.setenv(key, value)
    (a,) = _ids("a")
    old = _register(secure, tenant, a)[a]
    result = CliRunner().invoke(_cli(), ["rotate", a, "--json"])
    assert result.exit_code == 0, result.output
    new = json.loads(result.stdout)
    assert new["password"] != old.password
    assert not _login(secure, a, old.password)
    assert _login(secure, a, new["password"])


def test_revoked_device_is_refused_within_seconds_while_others_stay_connected(
    secure, tenant, ingest, monkeypatch
):
    for key, value in _env(secure).items():
        monkeypatch.setenv(key, value)
    a, b = _ids("a", "b")
    creds = _register(secure, tenant, a, b)
    broker_pid = MosquittoService(secure).running_pid()
    device_a = Probe(secure, a, creds[a].password)
    device_b = Probe(secure, b, creds[b].password)
    assert device_a.connect() and device_b.connect()

    started = time.monotonic()
    result = CliRunner().invoke(_cli(), ["revoke", a, "--json"])
    assert result.exit_code == 0, result.output
    assert not _login(secure, a, creds[a].password)
    assert time.monotonic() - started < APPLIED_WITHIN_S
    assert device_a.dropped.wait(APPLIED_WITHIN_S)  # its open session is closed too
    device_a.close()

    assert MosquittoService(secure).running_pid() == broker_pid  # reloaded, not restarted
    assert not device_b.dropped.is_set() and not ingest.dropped.is_set()
    device_b.publish(f"ioc/v1/{tenant}/{b}/telemetry", "still here")
    assert (f"ioc/v1/{tenant}/{b}/telemetry", b"still here") in ingest.received(wait=1.0)
    device_b.close()

    # Revoking twice is harmless; rotating a revoked device is refused; re-adding reinstates.
    with connect_db(secure) as conn:
        assert revoke_credentials(conn, a) is False
        with pytest.raises(CredentialError, match="revoked"):
            rotate_credentials(conn, a)
        back = issue_credentials(conn, a)
        sync_broker_auth(secure, conn)
    assert _login(secure, a, back.password)


def test_clients_stay_connected_through_many_reloads(secure, tenant, ingest):
    (a,) = _ids("a")
    creds = _register(secure, tenant, a)
    device_a = Probe(secure, a, creds[a].password)
    assert device_a.connect()
    for _ in range(3):
        _register(secure, tenant, *_ids("other"))  # each one rewrites the files and SIGHUPs
    assert not device_a.dropped.is_set() and not ingest.dropped.is_set()
    device_a.publish(f"ioc/v1/{tenant}/{a}/telemetry", "after reloads")
    assert (f"ioc/v1/{tenant}/{a}/telemetry", b"after reloads") in ingest.received(wait=1.0)
    device_a.close()


# --- mutual TLS -------------------------------------------------------------------------------


def test_mtls_needs_a_valid_certificate_from_the_project_ca(secure, tenant, tmp_path, monkeypatch):
    for key, value in _env(secure).items():
        monkeypatch.setenv(key, value)
    a, b = _ids("a", "b")
    _register(secure, tenant, a, b)
    ca = str(TlsFiles.for_settings(secure).ca_cert)
    port = secure.mqtt_mtls_port

    result = CliRunner().invoke(_cli(), ["cert", a, "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    good = {"ca_certs": ca, "certfile": str(tmp_path / "a" / f"{a}.crt"),
            "keyfile": str(tmp_path / "a" / f"{a}.key")}  # fmt: skip
    assert (tmp_path / "a" / f"{a}.key").stat().st_mode & 0o077 == 0

    # No certificate at all, even with a valid password: refused.
    assert not _login(secure, a, "irrelevant", port=port, tls={"ca_certs": ca})
    # A certificate from another CA (same CN): refused.
    foreign = Settings(_env_file=None, var_dir=tmp_path / "elsewhere", environment="test")
    ensure_ca_and_server_cert(foreign)
    other = issue_client_certificate(foreign, username=a)
    (tmp_path / "f.crt").write_text(other.certificate_pem)
    (tmp_path / "f.key").write_text(other.private_key_pem)
    forged = {"ca_certs": ca, "certfile": str(tmp_path / "f.crt"),
              "keyfile": str(tmp_path / "f.key")}  # fmt: skip
    assert not _login(secure, None, None, port=port, tls=forged)
    # The issued one: accepted, and the CN is the username the ACL applies to.
    device_a = Probe(secure, port=port, tls=good)
    assert device_a.connect()
    watcher = Probe(secure, secure.mqtt_ingest_username, INGEST_PASSWORD)
    assert watcher.connect()
    watcher.subscribe(f"ioc/v1/{tenant}/#")
    device_a.publish(f"ioc/v1/{tenant}/{b}/telemetry", "forged over mtls")
    device_a.publish(f"ioc/v1/{tenant}/{a}/telemetry", "own over mtls")
    assert watcher.received(wait=1.5) == [(f"ioc/v1/{tenant}/{a}/telemetry", b"own over mtls")]
    watcher.close()
    device_a.close()

    # Revoked: the CRL is rewritten and re-read on reload, so the certificate stops working.
    assert CliRunner().invoke(_cli(), ["revoke", a]).exit_code == 0
    assert not _login(secure, None, None, port=port, tls=good)


# --- simulators are devices -------------------------------------------------------------------


def test_simulated_stations_log_in_with_their_own_accounts(secure, tenant, ingest):
    fleet = AirQualityFleet(secure, stations=3, interval_s=0.2, tenant=tenant)
    fleet.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(
            s.client.is_connected() for s in fleet.stations
        ):
            time.sleep(0.05)
        fleet.publish_once()
        topics = {t for t, _ in ingest.received(wait=1.5) if t.endswith("/telemetry")}
    finally:
        fleet.close()
    assert topics == {f"ioc/v1/{tenant}/{d.id}/telemetry" for d in fleet.devices}
    with connect_db(secure) as conn:
        (accounts,) = conn.execute(
            "SELECT count(*) FROM broker_accounts WHERE tenant_id = %s", (tenant,)
        ).fetchone()
    assert accounts == 3


def test_the_acl_example_in_docs_is_what_we_generate():
    text = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    example = text.split("```text\nuser aq-101\n", 1)[1].split("```", 1)[0]
    account = BrokerAccount("aq-101", "$7$x", "device", device_rules("sonnmt", "aq-101"))
    assert render_acl_file([account]).split("\n\n", 1)[1] == "user aq-101\n" + example
