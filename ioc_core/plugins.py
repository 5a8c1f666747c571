"""Entry points through which the other packages plug into the shared ``ioc`` command.

``ioc_core`` sits at the bottom of the dependency graph, so it never imports ``ingest`` or
``devices``; they register sub-commands (``ioc.commands``) and reference-data hooks run after
migrations (``ioc.post_migrate``) in pyproject.toml instead.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from psycopg import Connection

from ioc_core.settings import Settings

COMMANDS_GROUP = "ioc.commands"
BENCH_GROUP = "ioc.bench"
POST_MIGRATE_GROUP = "ioc.post_migrate"
# Hooks that need the settings too, run after migrations by `ioc stack up`, `ioc db migrate`
# and `ioc demo`: e.g. regenerating the broker's password and ACL files from the registry.
AFTER_MIGRATE_GROUP = "ioc.after_migrate"

PostMigrateHook = Callable[[Connection], None]


def post_migrate_hooks() -> list[tuple[str, PostMigrateHook]]:
    eps = sorted(entry_points(group=POST_MIGRATE_GROUP), key=lambda ep: ep.name)
    return [(ep.name, ep.load()) for ep in eps]


def after_migrate(settings: Settings, conn: Connection) -> list[str]:
    done = []
    for ep in sorted(entry_points(group=AFTER_MIGRATE_GROUP), key=lambda ep: ep.name):
        ep.load()(settings, conn)
        done.append(ep.name)
    return done


def migrate_and_sync(conn: Connection) -> tuple[list[str], list[str]]:
    """Apply SQL migrations, then let each package sync its reference data (idempotent)."""
    from ioc_core.migrate import migrate

    applied = [f"{m.version:04d}_{m.name}" for m in migrate(conn)]
    synced = []
    for name, hook in post_migrate_hooks():
        with conn.transaction():
            hook(conn)
        synced.append(name)
    return applied, synced
