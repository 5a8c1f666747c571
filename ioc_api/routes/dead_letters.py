"""Dead letters: so a device maker can see why a message was rejected."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from ioc_api.auth.scope import Reader, tenant_filter
from ioc_api.deps import DbConn
from ioc_api.services.dead_letters import MAX_PAGE, DeadLetterPage, page_dead_letters

router = APIRouter(tags=["dead letters"])


@router.get("/dead-letters")
def dead_letters_index(
    conn: DbConn,
    principal: Reader,
    tenant: str | None = None,
    device_id: str | None = None,
    reason: Annotated[str | None, Query(description="e.g. unknown_device, bad_json")] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[
        str | None, Query(pattern="^[0-9]{1,18}$", description="`next_cursor` of the previous page")
    ] = None,
) -> DeadLetterPage:
    """Rejected messages, newest first, with the reason and the payload as received. A
    tenant-bound caller sees its own tenant's; IoT Agent API keys in topics are masked."""
    return page_dead_letters(
        conn, tenant=tenant_filter(principal, tenant), device_id=device_id, reason=reason,
        since=since, before_id=int(cursor) if cursor else None, limit=limit,
    )  # fmt: skip
