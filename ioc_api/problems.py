"""One place that turns errors into RFC 9457 ``application/problem+json`` responses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from devices.errors import (
    CsvImportError,
    DeviceExistsError,
    DeviceNotFoundError,
    DeviceValidationError,
)

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DeviceNotFoundError)
    async def _not_found(request: Request, exc: DeviceNotFoundError) -> JSONResponse:
        return problem(404, "Device not found", str(exc), device_id=exc.device_id)

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
