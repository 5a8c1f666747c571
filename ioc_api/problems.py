"""One place that turns errors into RFC 9457 ``application/problem+json`` responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg.errors import DataError
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from devices.errors import (
    CsvImportError,
    DeviceExistsError,
    DeviceNotFoundError,
    DeviceValidationError,
)

PROBLEM = "application/problem+json"
log = logging.getLogger(__name__)

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "path": {"type": "string"}, "message": {"type": "string"}}}},
    },
    "additionalProperties": True,
}  # fmt: skip


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}}


# Documented on every operation: what any endpoint may answer besides its own responses.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("Bad request"),
    401: _error("No valid credentials (WWW-Authenticate: Bearer)"),
    403: _error("Not allowed for this role or tenant"),
    404: _error("Not found (another tenant's resources answer the same)"),
    422: _error("Invalid request; `errors` lists each field path and what is wrong"),
    429: _error("Rate limit exceeded; see Retry-After"),
    500: _error("Internal error (logged with its cause; no details here)"),
}


def problem(status: int, title: str, detail: str, **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DeviceNotFoundError)
    async def _not_found(request: Request, exc: DeviceNotFoundError) -> JSONResponse:
        return problem(404, "Device not found", str(exc), device_id=exc.device_id)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "Internal error",
            "the error was logged; nothing was changed "
            "unless the response of a retried request says otherwise",
        )

    @app.exception_handler(DataError)
    async def _bad_data(request: Request, exc: DataError) -> JSONResponse:
        # SQLSTATE class 22: a value the database cannot take (a NUL byte in text, a date out
        # of range) came from the request; the client's to fix, not a server fault.
        return problem(
            422,
            "Invalid request",
            f"a parameter value is not acceptable: {exc.diag.message_primary or exc}",
        )

    @app.exception_handler(ValidationError)
    async def _model_invalid(request: Request, exc: ValidationError) -> JSONResponse:
        # A service rebuilt a model from the request (a patch merged into a device) and the
        # result is invalid: the request's fault, reported with the same field paths.
        errors = [
            {"path": ".".join(["body", *(str(p) for p in err["loc"])]), "message": err["msg"]}
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        return problem(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"path": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        return problem(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail))

    @app.exception_handler(DeviceValidationError)
    async def _invalid_device(request: Request, exc: DeviceValidationError) -> JSONResponse:
        # Same ``errors`` shape as request validation, so a client handles both alike.
        errors = [{"path": p.field, "message": p.message} for p in exc.problems]
        return problem(422, "Invalid device", str(exc), device_id=exc.device_id, errors=errors)

    @app.exception_handler(DeviceExistsError)
    async def _exists(request: Request, exc: DeviceExistsError) -> JSONResponse:
        return problem(409, "Device exists", str(exc), device_id=exc.device_id)

    @app.exception_handler(CsvImportError)
    async def _bad_csv(request: Request, exc: CsvImportError) -> JSONResponse:
        errors = [{"line": p.line, "column": p.column, "message": p.message} for p in exc.problems]
        return problem(422, "Invalid CSV, nothing imported", str(exc), errors=errors)
