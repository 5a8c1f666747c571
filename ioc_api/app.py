"""The FastAPI application factory.

Services hang off a typed ``AppState`` built in the lifespan from the settings passed in, not
off untyped attributes or import-time globals, so tests build an app against their own database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from psycopg_pool import ConnectionPool

from ioc_api.auth.handlers import install_auth_handlers
from ioc_api.auth.tokens import check_secret
from ioc_api.problems import install_problem_handlers
from ioc_api.routes import alerts as alert_routes
from ioc_api.routes import aqi, auth, commands, devices, health, thresholds
from ioc_api.routes import forecasts as forecast_routes
from ioc_core.db import make_pool
from ioc_core.settings import Settings


@dataclass
class AppState:
    settings: Settings
    pool: ConnectionPool


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    check_secret(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_pool(settings, max_size=10)
        app.state.ioc = AppState(settings=settings, pool=pool)
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="Hai Phong IOC API",
        version="0.1.0",
        summary="Devices and telemetry of the Hai Phong operations centre.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    install_auth_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(devices.router)
    app.include_router(commands.router)
    app.include_router(thresholds.router)
    app.include_router(aqi.router)
    app.include_router(alert_routes.router)
    app.include_router(forecast_routes.router)
    return app
