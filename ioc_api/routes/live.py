"""``GET /live``: server-sent events of new and changed alerts and of latest values.

Server-sent events rather than a WebSocket: one-way is all the wall needs, it goes through
every HTTP proxy, and the browser's EventSource reconnects by itself. Written on
``StreamingResponse`` (about twenty lines) rather than a plugin, because the format is three
text fields and a heartbeat.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from ioc_api.auth.scope import Reader
from ioc_api.live.hub import LiveFilter, LiveHub

router = APIRouter(tags=["live"])

HEARTBEAT_S: Final = 15.0  # proxies close idle connections after 30-60 s


def _csv(values: list[str] | None) -> frozenset[str]:
    return frozenset(v.strip() for value in values or () for v in value.split(",") if v.strip())


@router.get(
    "/live",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                     "description": "`event: alert` / `event: latest`, `data:` one JSON object"}},
)  # fmt: skip
async def live(
    request: Request,
    principal: Reader,
    kind: Annotated[list[str] | None, Query(description="Device kinds")] = None,
    commune: Annotated[list[str] | None, Query(description="Commune codes")] = None,
    events: Annotated[list[str] | None, Query(description="alert, latest (default both)")] = None,
) -> StreamingResponse:  # fmt: skip
    """A stream of ``alert`` events (id, op, state, severity, kind, device_id, tenant_id,
    device_kind, commune_code: fetch ``/alerts/{id}`` for the rest) and ``latest`` events (one
    per series whose newest reading moved), limited to the caller's tenant."""
    types = _csv(events) & {"alert", "latest"} or frozenset({"alert", "latest"})
    hub: LiveHub = request.app.state.ioc.hub
    sub = hub.subscribe(LiveFilter(principal.tenant_scope, _csv(kind), _csv(commune), types))

    async def stream() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            dropped = 0
            while not await request.is_disconnected():
                try:
                    event = await asyncio.wait_for(sub.queue.get(), timeout=HEARTBEAT_S)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if sub.dropped != dropped:  # the client fell behind: say how much it missed
                    yield f"event: overflow\ndata: {json.dumps({'dropped': sub.dropped})}\n\n"
                    dropped = sub.dropped
                yield f"event: {event.type}\ndata: {json.dumps(event.data)}\n\n"
        finally:
            hub.unsubscribe(sub)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
