"""Rate limits: a token bucket per credential, or per client address for anonymous calls.

In-process, so each API process (uvicorn worker) keeps its own buckets: with N workers behind
one proxy a client may get up to N times the configured rate. That is the price of needing no
shared store; a limit that must hold exactly across processes belongs in the reverse proxy
(docs/security.md). Buckets are keyed by a hash of the credential presented, not by the
principal, because the middleware runs before authentication; a token and an API key of the
same user are then two buckets, which only errs on the generous side.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from ioc_api.problems import PROBLEM

MAX_BUCKETS: Final = 100_000  # least recently used buckets are forgotten beyond this
EXEMPT: Final = frozenset({"/health"})


@dataclass
class Limit:
    rate: float  # tokens per second; 0 disables
    burst: float


class TokenBuckets:
    def __init__(self) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, limit: Limit, now: float | None = None) -> float:
        """0.0 when a token was taken, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(key, (limit.burst, now))
        tokens = min(limit.burst, tokens + (now - last) * limit.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / limit.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
        return wait


def _credential(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name in (b"authorization", b"x-api-key") and value:
            return value
    return None


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, principal: Limit, anonymous: Limit) -> None:
        self.app = app
        self.principal = principal
        self.anonymous = anonymous
        self.buckets = TokenBuckets()
        self.limited = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        credential = _credential(scope)
        if credential is not None:
            key, limit = "c:" + hashlib.sha256(credential).hexdigest()[:24], self.principal
        else:
            client = scope.get("client")
            key, limit = "a:" + (client[0] if client else "?"), self.anonymous
        wait = self.buckets.take(key, limit) if limit.rate > 0 else 0.0
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        self.limited += 1
        retry = max(1, math.ceil(wait))
        body = orjson.dumps({
            "type": "about:blank", "title": "Too many requests", "status": 429,
            "detail": f"rate limit of {limit.rate:g}/s (burst {limit.burst:g}) exceeded; "
                      f"retry in {retry} s",
        })  # fmt: skip
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", PROBLEM.encode()), (b"retry-after", str(retry).encode()),
            (b"content-length", str(len(body)).encode()),
        ]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})
