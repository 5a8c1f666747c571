"""Prometheus metrics of the API: requests and latency by route template, not by raw path.

Labelled by the route's template (``/devices/{device_id}``), so one label value per endpoint
rather than one per device id: the series count stays bounded whatever clients ask for. Each
app has its own registry, so tests that build many apps never collide in the global one.
"""

from __future__ import annotations

import time
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Latency buckets around the 50 ms goal of the wall's queries, up to slow exports.
BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STREAMING: Final = frozenset({"/live"})  # a stream's duration is not a latency


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ioc_api_requests", "HTTP requests by method, route template and status",
            ["method", "route", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "ioc_api_request_duration_seconds", "Time to the end of the response, by route",
            ["method", "route"], buckets=BUCKETS, registry=self.registry,
        )  # fmt: skip


def _template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    # Rejected before routing (rate limit, 401 from a dependency still routes): find it.
    app = scope.get("app")
    for candidate in getattr(getattr(app, "router", None), "routes", ()):
        match, _ = candidate.matches(scope)
        if match == Match.FULL:
            return str(getattr(candidate, "path", "unmatched"))
    return "unmatched"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _template(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            if route not in STREAMING:
                self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)
