"""Database access shared by ingest, API, analytics and simulators.

Plain psycopg 3: connections and pools built from settings, nothing hidden behind an ORM, so
the hot paths (COPY in ingest) and the service functions read the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import Connection, connect
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool

from ioc_core.settings import Settings

DictConnection = Connection[dict[str, object]]


def connect_db(
    settings: Settings, *, autocommit: bool = False, dsn: str | None = None
) -> Connection:
    return connect(dsn or settings.postgres_dsn, autocommit=autocommit, connect_timeout=10)


def make_pool(
    settings: Settings, *, min_size: int = 1, max_size: int = 10, dsn: str | None = None
) -> ConnectionPool:
    """A pool of dict-row connections; opened before return so a wrong DSN fails at start-up."""
    pool = ConnectionPool(
        dsn or settings.postgres_dsn,
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row, "autocommit": True},
        open=False,
        name="ioc",
    )
    pool.open(wait=True, timeout=15)
    return pool


Params = Sequence[Any] | Mapping[str, Any]


def fetch_one(conn: Connection, query: str, params: Params = ()) -> tuple[Any, ...] | None:
    """One row as a tuple, whatever row factory the connection was opened with.

    Service functions are called with the API pool's dict-row connections and with the CLI's
    plain ones; reading by position through this keeps them indifferent to which.
    """
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(query, params).fetchone()


def fetch_all(conn: Connection, query: str, params: Params = ()) -> list[tuple[Any, ...]]:
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(query, params).fetchall()
