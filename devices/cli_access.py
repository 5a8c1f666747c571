"""``ioc devices add | revoke | rotate | cert``: who may talk to the broker.

Command functions only; they are registered on the ``devices`` typer app in ``devices/cli.py``.
Each one changes the registry, commits, and then regenerates and applies the broker's files
(``sync_broker_auth``), so when the command returns the broker already knows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from psycopg import Connection
from pydantic import ValidationError

from devices.broker_auth import sync_broker_auth
from devices.client_certs import issue_device_certificate
from devices.communes import commune_by_name
from devices.credentials import issue_credentials, revoke_credentials, rotate_credentials
from devices.errors import DeviceExistsError, DeviceNotFoundError
from devices.profiles import load_profiles
from devices.registry import DeviceIn, create_device, ensure_tenant
from ioc_core.cli.common import fail_cleanly, settings_from_env
from ioc_core.db import connect_db
from ioc_core.errors import IocError

__all__ = ["add_device_cmd", "cert_cmd", "revoke_cmd", "rotate_cmd"]


def _device_in(
    *, device_id: str, kind: str, tenant: str, commune: str | None, lat: float, lon: float
) -> DeviceIn:
    if kind not in load_profiles():
        known = ", ".join(sorted(load_profiles()))
        raise IocError(f"--kind {kind!r} has no device profile (known kinds: {known})")
    try:
        code = commune_by_name(commune).code if commune else None
    except KeyError as exc:
        raise IocError(f"--commune: {exc.args[0]}") from exc
    try:
        return DeviceIn(
            id=device_id, kind=kind, tenant_id=tenant, commune_code=code, lat=lat, lon=lon
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise IocError(f"invalid device: {problems}") from exc


def _require_tenant(conn: Connection, tenant: str, name: str | None) -> None:
    """A typo in --tenant must not silently create an organisation."""
    if name:
        ensure_tenant(conn, tenant, name)
    elif conn.execute("SELECT 1 FROM tenants WHERE id = %s", (tenant,)).fetchone() is None:
        raise IocError(f"tenant {tenant!r} is not registered; pass --tenant-name to create it")


def _known(device_id: str) -> IocError:
    return IocError(f"no device with id {device_id!r} in the registry")


@fail_cleanly
def add_device_cmd(
    device_id: str = typer.Option(..., "--id", help="Device id, also its MQTT username."),
    kind: str = typer.Option(..., help="Device kind (a profile in devices/profile_data)."),
    tenant: str = typer.Option(..., help="Owning tenant id."),
    commune: str | None = typer.Option(None, help="Commune name, e.g. 'Phường An Dương'."),
    lat: float = typer.Option(..., help="Latitude, WGS84."),
    lon: float = typer.Option(..., help="Longitude, WGS84."),
    tenant_name: str | None = typer.Option(None, help="Create the tenant with this name."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Register a device and issue its broker account; the password is shown only now."""
    settings = settings_from_env()
    device = _device_in(
        device_id=device_id, kind=kind, tenant=tenant, commune=commune, lat=lat, lon=lon
    )
    with connect_db(settings) as conn:
        with conn.transaction():
            _require_tenant(conn, tenant, tenant_name)
            try:
                create_device(conn, device)  # validates commune, location, kind, tenant
            except DeviceExistsError as exc:
                raise IocError(
                    f"device {device.id!r} is already registered; for a new password use "
                    f"`ioc devices rotate {device.id}`"
                ) from exc
            issued = issue_credentials(conn, device.id)
        applied = sync_broker_auth(settings, conn)
    out = {**issued.as_json(), "broker": applied.as_json()}
    if as_json:
        typer.echo(json.dumps(out))
        return
    for key, value in issued.as_json().items():
        typer.echo(f"{key:16} {value}")
    typer.echo("The password is shown once; store it on the device now.")


@fail_cleanly
def revoke_cmd(
    device_id: str = typer.Argument(..., help="Device id."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Revoke a device's account and certificates; the broker drops it within seconds."""
    settings = settings_from_env()
    with connect_db(settings) as conn:
        try:
            changed = revoke_credentials(conn, device_id)
        except DeviceNotFoundError as exc:
            raise _known(device_id) from exc
        applied = sync_broker_auth(settings, conn)
    if as_json:
        typer.echo(json.dumps({"id": device_id, "revoked": True, "changed": changed,
                               "broker": applied.as_json()}))  # fmt: skip
        return
    typer.echo(f"{device_id} revoked" if changed else f"{device_id} was already revoked")


@fail_cleanly
def rotate_cmd(
    device_id: str = typer.Argument(..., help="Device id."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Issue a new password; the old one is refused (and its sessions dropped) at once."""
    settings = settings_from_env()
    with connect_db(settings) as conn:
        try:
            issued = rotate_credentials(conn, device_id)
        except DeviceNotFoundError as exc:
            raise _known(device_id) from exc
        applied = sync_broker_auth(settings, conn)
    if as_json:
        typer.echo(json.dumps({**issued.as_json(), "broker": applied.as_json()}))
        return
    typer.echo(f"username {issued.username}\npassword {issued.password}")
    typer.echo("The password is shown once; store it on the device now.")


@fail_cleanly
def cert_cmd(
    device_id: str = typer.Argument(..., help="Device id."),
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for <id>.crt, <id>.key and ca.crt; without it, JSON on stdout."),
    ] = None,
    replace: bool = typer.Option(False, help="Revoke the device's earlier certificates."),
) -> None:
    """Issue a client certificate (CN = the device's username) signed by the project CA."""
    settings = settings_from_env()
    with connect_db(settings) as conn:
        try:
            cert = issue_device_certificate(settings, conn, device_id, replace=replace)
        except DeviceNotFoundError as exc:
            raise _known(device_id) from exc
        if replace:
            sync_broker_auth(settings, conn)
    if out is None:
        typer.echo(
            json.dumps({
                "id": device_id, "username": cert.username, "serial": format(cert.serial, "x"),
                "not_after": cert.not_after.isoformat(), "certificate": cert.certificate_pem,
                "private_key": cert.private_key_pem, "ca_certificate": cert.ca_certificate_pem,
            })
        )  # fmt: skip
        return
    out.mkdir(parents=True, exist_ok=True)
    key_path = out / f"{device_id}.key"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(cert.private_key_pem)
    (out / f"{device_id}.crt").write_text(cert.certificate_pem)
    (out / "ca.crt").write_text(cert.ca_certificate_pem)
    typer.echo(f"wrote {out / f'{device_id}.crt'}, {key_path} and {out / 'ca.crt'}")
