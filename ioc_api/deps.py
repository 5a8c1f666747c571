"""Request-scoped dependencies: a pooled connection per request, returned on exit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from psycopg import Connection


def _connection(request: Request) -> Iterator[Connection]:
    with request.app.state.ioc.pool.connection() as conn:
        yield conn


DbConn = Annotated[Connection, Depends(_connection)]
