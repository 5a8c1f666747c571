"""``ioc``: the one command line of the stack.

Core groups (``stack``, ``db``, ``demo``) live here; the other packages add theirs through the
``ioc.commands`` entry point group. Every command builds one ``Settings`` and passes it down.
"""

from __future__ import annotations

import json

import typer

from ioc_core.cli.common import fail_cleanly, settings_from_env
from ioc_core.cli.demo import demo
from ioc_core.cli.lazy import (
    Loader,
    build_subgroup,
    function_command_loaders,
    lazy_group,
    typer_group_loaders,
)
from ioc_core.logs import configure_logging
from ioc_core.plugins import BENCH_GROUP, COMMANDS_GROUP, after_migrate, migrate_and_sync


def _plugin_loaders() -> dict[str, Loader]:
    """The packages' sub-command groups, then ``bench``: each imported only when named."""
    bench_app = typer.Typer(
        cls=lazy_group(lambda: function_command_loaders(BENCH_GROUP)),
        no_args_is_help=True,
        help="Benchmarks that print JSON.",
    )
    return {
        **typer_group_loaders(COMMANDS_GROUP),
        "bench": lambda: build_subgroup(bench_app, "bench"),
    }


app = typer.Typer(
    cls=lazy_group(_plugin_loaders),
    no_args_is_help=True,
    add_completion=False,
    help="Hai Phong IOC backend: private stack, database, ingest, API, simulators, demo.",
)
stack_app = typer.Typer(no_args_is_help=True, help="The private PostgreSQL + Mosquitto stack.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema and reference data.")
app.add_typer(stack_app, name="stack")
app.add_typer(db_app, name="db")
app.command(help="Run the whole stack with simulated devices and the wall; Ctrl-C stops all.")(demo)


@app.callback()
def _configure(
    verbose: bool = typer.Option(False, "--verbose", "-v"),
    log_format: str | None = typer.Option(
        None, "--log-format", help="text or json (default: IOC_LOG_FORMAT, else text)"
    ),
) -> None:
    configure_logging(verbose=verbose, fmt=log_format)


@stack_app.command("up")
@fail_cleanly
def stack_up_cmd(
    migrate: bool = typer.Option(True, help="Apply migrations once the database is up."),
) -> None:
    """Start PostgreSQL + TimescaleDB and Mosquitto under var/, health-checked."""
    from ioc_core.db import connect_db
    from ioc_core.stack import stack_up

    settings = settings_from_env()
    status = stack_up(settings)
    if status.already_running:
        typer.echo("already running")
    else:
        typer.echo(f"started: {', '.join(status.started)}")
    if migrate:
        with connect_db(settings) as conn:
            applied, _ = migrate_and_sync(conn)
            after_migrate(settings, conn)
        typer.echo(f"migrations applied: {', '.join(applied) or 'none (up to date)'}")
    typer.echo(f"postgres: {settings.postgres_dsn}\nmqtt:     {settings.mqtt_url}")


@stack_app.command("down")
@fail_cleanly
def stack_down_cmd() -> None:
    """Stop exactly the processes `ioc stack up` started."""
    from ioc_core.stack import stack_down

    stopped = stack_down(settings_from_env())
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@stack_app.command("status")
@fail_cleanly
def stack_status_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """Report whether the stack runs; exit code 0 either way (read `running`)."""
    from ioc_core.stack import stack_status

    status = stack_status(settings_from_env())
    if as_json:
        typer.echo(json.dumps(status.as_json()))
        return
    for name, svc in status.services.items():
        state = "running" if svc.running else "stopped"
        how = f"pid {svc.pid}" if svc.pid else ("external" if not svc.managed else "")
        typer.echo(f"{name:9} {state:8} {how}")
    typer.echo(
        f"postgres_dsn {status.postgres_dsn}\nmqtt         {status.mqtt_host}:{status.mqtt_port}"
    )


@db_app.command("migrate")
@fail_cleanly
def db_migrate_cmd() -> None:
    """Apply pending SQL migrations and sync reference data; safe to re-run."""
    from ioc_core.db import connect_db

    settings = settings_from_env()
    with connect_db(settings) as conn:
        applied, synced = migrate_and_sync(conn)
        synced += after_migrate(settings, conn)
    typer.echo(f"migrations applied: {', '.join(applied) or 'none (up to date)'}")
    typer.echo(f"reference data synced: {', '.join(synced) or 'none'}")


if __name__ == "__main__":
    app()
