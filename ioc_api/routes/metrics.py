"""``GET /metrics``: the API's Prometheus metrics, for operators and their scraper only.

Behind credentials like everything else (an operator's API key, which Prometheus sends as
``Authorization: Bearer ioc_...``), because request counts per route reveal who uses what.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ioc_api.auth.deps import require_roles
from ioc_api.auth.principal import Principal, Role

router = APIRouter(tags=["health"])

Scraper = Annotated[Principal, Depends(require_roles(Role.OPERATOR, action="read API metrics"))]


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text format",
        }
    },
)
def metrics(request: Request, principal: Scraper) -> Response:
    registry = request.app.state.ioc.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
