"""Liveness and readiness: answers without credentials, checks the database for real."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from ioc_api.deps import DbConn

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: bool


@router.get("/health")
def health(conn: DbConn) -> Health:
    conn.execute("SELECT 1")
    return Health(status="ok", database=True)
