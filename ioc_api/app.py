"""The FastAPI application factory.

Services hang off a typed ``AppState`` built in the lifespan from the settings passed in, not
off untyped attributes or import-time globals, so tests build an app against their own database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from psycopg_pool import ConnectionPool

from ioc_api.auth.handlers import install_auth_handlers
from ioc_api.auth.tokens import check_secret
from ioc_api.live.hub import LiveHub
from ioc_api.observability import ApiMetrics, MetricsMiddleware
from ioc_api.problems import ERROR_RESPONSES, install_problem_handlers
from ioc_api.ratelimit import Limit, RateLimitMiddleware
from ioc_api.routes import alerts as alert_routes
from ioc_api.routes import (
    aqi,
    auth,
    commands,
    dead_letters,
    devices,
    health,
    live,
    metrics,
    ngsi,
    open_data,
    profiles,
    telemetry,
    thresholds,
)
from ioc_api.routes import forecasts as forecast_routes
from ioc_api.routes import wall as wall_routes
from ioc_core.db import make_pool
from ioc_core.settings import Settings


@dataclass
class AppState:
    settings: Settings
    pool: ConnectionPool
    metrics: ApiMetrics
    hub: LiveHub


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    check_secret(settings)
    api_metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_pool(settings, max_size=10)
        hub = LiveHub(settings, asyncio.get_running_loop())
        app.state.ioc = AppState(settings=settings, pool=pool, metrics=api_metrics, hub=hub)
        if settings.api_live_sweep:
            hub.start()
        try:
            yield
        finally:
            hub.stop()
            pool.close()

    app = FastAPI(
        title="Hai Phong IOC API",
        version="0.2.0",
        summary="Devices, telemetry, alerts and open data of the Hai Phong operations centre.",
        description="Errors are RFC 9457 `application/problem+json`. Authenticate with a bearer "
        "token from `POST /auth/token` or an API key (`X-API-Key`, or `Authorization: Bearer "
        "ioc_...`). Only `/health` and `/open-data/...` answer without credentials. See "
        "docs/api.md.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        # The API's description is public (it holds no data); a deployment that wants no
        # anonymous answer at all but /health and open data turns it off.
        openapi_url="/openapi.json" if settings.api_public_docs else None,
    )
    install_problem_handlers(app)
    install_auth_handlers(app)
    # Added innermost first: CORS outermost (a 429 still carries its headers), then metrics
    # (which count the 429s), then the rate limit.
    app.add_middleware(
        RateLimitMiddleware,
        principal=Limit(settings.api_rate_limit_per_s, settings.api_rate_limit_burst),
        anonymous=Limit(settings.api_rate_limit_anonymous_per_s,
                        settings.api_rate_limit_anonymous_burst),
    )  # fmt: skip
    app.add_middleware(MetricsMiddleware, metrics=api_metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            expose_headers=["Link", "NGSILD-Results-Count", "Retry-After", "ETag"],
        )
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(devices.router)
    app.include_router(commands.router)
    app.include_router(thresholds.router)
    app.include_router(aqi.router)
    app.include_router(profiles.router)
    app.include_router(telemetry.router)
    app.include_router(dead_letters.router)
    app.include_router(live.router)
    app.include_router(metrics.router)
    app.include_router(ngsi.router)
    app.include_router(open_data.router)
    app.include_router(alert_routes.router)
    app.include_router(wall_routes.router)
    app.include_router(forecast_routes.router)
    return app
