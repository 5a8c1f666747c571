"""401 and 403 as RFC 9457 problems; 401 carries the challenge OAuth2 clients expect."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ioc_api.auth.deps import ForbiddenError, NotAuthenticatedError
from ioc_api.problems import problem


def install_auth_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticatedError)
    async def _unauthenticated(request: Request, exc: NotAuthenticatedError) -> JSONResponse:
        response = problem(401, "Not authenticated", str(exc))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(ForbiddenError)
    async def _forbidden(request: Request, exc: ForbiddenError) -> JSONResponse:
        return problem(403, "Forbidden", str(exc))
