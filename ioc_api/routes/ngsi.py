"""NGSI-LD read API (ETSI GS CIM 009): entities and their temporal representation.

Served as ``application/json`` with the ``@context`` in a Link header, or as
``application/ld+json`` with ``@context`` in the body when the client asks for it (Accept).
The context document is ours and local (``/open-data/ngsi-ld/context.jsonld``), so nothing
depends on reaching the Internet. Read-only, tenant-scoped like the rest of the API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from ioc_api.auth.scope import Reader
from ioc_api.deps import DbConn
from ioc_api.ngsi.entities import NgsiQueryError, query_entities, temporal_entities

router = APIRouter(prefix="/ngsi-ld/v1", tags=["ngsi-ld"])

CONTEXT_PATH: Final = "/open-data/ngsi-ld/context.jsonld"
LD_JSON: Final = "application/ld+json"
MAX_LIMIT: Final = 1_000
_ENTITY_SCHEMA: Final[dict[str, Any]] = {
    "type": "object", "required": ["id", "type"],
    "properties": {"id": {"type": "string"}, "type": {"type": "string"}},
    "additionalProperties": True,
}  # fmt: skip
_LIST: Final[dict[int | str, dict[str, Any]]] = {200: {
    "description": "Entities (NGSI-LD normalized representation)",
    "content": {"application/json": {"schema": {"type": "array", "items": _ENTITY_SCHEMA}},
                LD_JSON: {"schema": {"type": "array", "items": _ENTITY_SCHEMA}}},
}}  # fmt: skip
_ONE: Final[dict[int | str, dict[str, Any]]] = {
    200: {"description": "One entity",
          "content": {"application/json": {"schema": _ENTITY_SCHEMA},
                      LD_JSON: {"schema": _ENTITY_SCHEMA}}},
    404: {"description": "No such entity"},
}  # fmt: skip


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _respond(request: Request, body: Any, *, count: int | None = None) -> JSONResponse:
    context_url = str(request.base_url).rstrip("/") + CONTEXT_PATH
    headers = {}
    if count is not None:
        headers["NGSILD-Results-Count"] = str(count)
    if LD_JSON in request.headers.get("accept", ""):
        if isinstance(body, list):
            body = [{**e, "@context": context_url} for e in body]
        else:
            body = {**body, "@context": context_url}
        return JSONResponse(body, media_type=LD_JSON, headers=headers)
    headers["Link"] = (f'<{context_url}>; rel="http://www.w3.org/ns/json-ld#context"; '
                       f'type="{LD_JSON}"')  # fmt: skip
    return JSONResponse(body, headers=headers)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


@router.get("/entities", response_class=JSONResponse, responses=_LIST)
def entities(
    request: Request,
    conn: DbConn,
    principal: Reader,
    type: Annotated[str | None, Query(description="Entity types, comma-separated")] = None,
    id: Annotated[str | None, Query(description="Entity ids (URNs), comma-separated")] = None,
    q: Annotated[str | None, Query(description="e.g. `pm25>50;temperature<35`")] = None,
    attrs: Annotated[str | None, Query(description="Attributes to return")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    count: bool = False,
) -> JSONResponse:
    """Devices as Smart Data Models entities with their latest values (``observedAt``,
    ``unitCode``), in id order; ``count=true`` adds ``NGSILD-Results-Count``."""
    try:
        found, total = query_entities(
            conn, tenant=principal.tenant_scope, types=_csv(type), ids=_csv(id), q=q,
            attrs=_csv(attrs), limit=limit, offset=offset,
        )  # fmt: skip
    except NgsiQueryError as exc:
        raise HTTPException(400, str(exc)) from exc
    return _respond(request, found, count=total if count else None)


@router.get("/entities/{entity_id}", response_class=JSONResponse, responses=_ONE)
def entity(request: Request, conn: DbConn, principal: Reader, entity_id: str,
           attrs: str | None = None) -> JSONResponse:  # fmt: skip
    try:
        found, _ = query_entities(conn, tenant=principal.tenant_scope, types=[],
                                  ids=[entity_id], q=None, attrs=_csv(attrs), limit=1,
                                  offset=0)  # fmt: skip
    except NgsiQueryError as exc:
        raise HTTPException(400, str(exc)) from exc
    if not found:
        raise HTTPException(404, f"no entity {entity_id!r}")
    return _respond(request, found[0])


def _window(timerel: str | None, time_at: datetime | None,
            end_time_at: datetime | None) -> tuple[datetime | None, datetime | None]:  # fmt: skip
    time_at, end_time_at = _aware(time_at), _aware(end_time_at)
    if timerel is None:
        return None, None
    if time_at is None:
        raise HTTPException(400, "timerel needs timeAt")
    if timerel == "before":
        return None, time_at
    if timerel == "after":
        return time_at, None
    if end_time_at is None or end_time_at <= time_at:
        raise HTTPException(400, "timerel=between needs endTimeAt after timeAt")
    return time_at, end_time_at


@router.get("/temporal/entities", response_class=JSONResponse, responses=_LIST)
def temporal(
    request: Request,
    conn: DbConn,
    principal: Reader,
    type: Annotated[str | None, Query()] = None,
    id: Annotated[str | None, Query()] = None,
    attrs: str | None = None,
    timerel: Literal["before", "after", "between"] | None = None,
    time_at: Annotated[datetime | None, Query(alias="timeAt")] = None,
    end_time_at: Annotated[datetime | None, Query(alias="endTimeAt")] = None,
    last_n: Annotated[int, Query(alias="lastN", ge=1, le=1_000)] = 100,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    count: bool = False,
) -> JSONResponse:
    """Each attribute as an array of instances (value, observedAt, unitCode), the newest
    ``lastN`` in the window, oldest first. Needs ``type`` or ``id``."""
    if not type and not id:
        raise HTTPException(400, "give type or id")
    since, until = _window(timerel, time_at, end_time_at)
    try:
        found, total = temporal_entities(
            conn, tenant=principal.tenant_scope, types=_csv(type), ids=_csv(id),
            attrs=_csv(attrs), since=since, until=until, last_n=last_n, limit=limit,
            offset=offset,
        )  # fmt: skip
    except NgsiQueryError as exc:
        raise HTTPException(400, str(exc)) from exc
    return _respond(request, found, count=total if count else None)


@router.get("/temporal/entities/{entity_id}", response_class=JSONResponse, responses=_ONE)
def temporal_entity(
    request: Request, conn: DbConn, principal: Reader, entity_id: str,
    attrs: str | None = None, timerel: Literal["before", "after", "between"] | None = None,
    time_at: Annotated[datetime | None, Query(alias="timeAt")] = None,
    end_time_at: Annotated[datetime | None, Query(alias="endTimeAt")] = None,
    last_n: Annotated[int, Query(alias="lastN", ge=1, le=1_000)] = 100,
) -> JSONResponse:  # fmt: skip
    since, until = _window(timerel, time_at, end_time_at)
    try:
        found, _ = temporal_entities(
            conn, tenant=principal.tenant_scope, types=[], ids=[entity_id], attrs=_csv(attrs),
            since=since, until=until, last_n=last_n, limit=1, offset=0,
        )  # fmt: skip
    except NgsiQueryError as exc:
        raise HTTPException(400, str(exc)) from exc
    if not found:
        raise HTTPException(404, f"no entity {entity_id!r}")
    return _respond(request, found[0])
