"""``ioc accounts``: the API's users and API keys, from the command line."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from ioc_api.auth.accounts import create_api_key, create_user, revoke_api_key
from ioc_api.auth.principal import Role
from ioc_core.cli.common import fail_cleanly, settings_from_env
from ioc_core.db import connect_db
from ioc_core.errors import IocError

app = typer.Typer(no_args_is_help=True, help="API users and API keys.")

RoleOpt = Annotated[Role, typer.Option(help="operator, environment_staff, agency_admin, ...")]
TenantOpt = Annotated[str | None, typer.Option(help="Bind to this tenant (its devices only).")]


@app.command("add-user")
@fail_cleanly
def add_user(
    username: str,
    role: RoleOpt,
    tenant: TenantOpt = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
) -> None:
    """Create a user; the password is asked for (or read from stdin), never an argument."""
    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else typer.prompt("password", hide_input=True, confirmation_prompt=True)
    )
    if len(password) < 12:
        raise IocError("the password must have at least 12 characters")
    with connect_db(settings_from_env()) as conn:
        create_user(conn, username=username, password=password, role=role, tenant_id=tenant)
    typer.echo(f"user {username} ({role.value}{', tenant ' + tenant if tenant else ''}) created")


@app.command("create-key")
@fail_cleanly
def create_key(
    name: str, role: RoleOpt, tenant: TenantOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:  # fmt: skip
    """Create an API key for a machine client; the key is printed once."""
    with connect_db(settings_from_env()) as conn:
        key, principal = create_api_key(conn, name=name, role=role, tenant_id=tenant)
    if as_json:
        typer.echo(json.dumps({"key": key, "id": principal.name, "role": role.value}))
    else:
        typer.echo(f"{key}\n(shown once; send it as the X-API-Key header)")


@app.command("revoke-key")
@fail_cleanly
def revoke_key(prefix: str) -> None:
    """Revoke an API key by the prefix in its id (key:<prefix>)."""
    with connect_db(settings_from_env()) as conn:
        if not revoke_api_key(conn, prefix.removeprefix("key:")):
            raise IocError(f"no active API key with prefix {prefix!r}")
    typer.echo("revoked")
