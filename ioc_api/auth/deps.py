"""FastAPI dependencies: who is calling (bearer token or API key), and may they."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from ioc_api.auth.accounts import principal_for_key
from ioc_api.auth.principal import Principal, Role
from ioc_api.auth.secrets import split_api_key
from ioc_api.auth.tokens import TokenError, read_token

_bearer = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


class NotAuthenticatedError(Exception):
    """No valid credentials: the API answers 401 with a WWW-Authenticate challenge."""


class ForbiddenError(Exception):
    """Valid credentials, but not allowed to do this: 403."""

    def __init__(self, principal: Principal, action: str) -> None:
        super().__init__(f"{principal.name} ({principal.role}) may not {action}")
        self.principal = principal


def _principal(
    request: Request,
    token: Annotated[str | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    state = request.app.state.ioc
    if token and split_api_key(token) is not None:
        # An API key sent as a bearer token: what scrapers and many HTTP clients can send.
        api_key, token = token, None
    if token:
        try:
            return read_token(token, state.settings)
        except TokenError as exc:
            raise NotAuthenticatedError(f"invalid or expired token: {exc}") from exc
    if api_key:
        with state.pool.connection() as conn:
            found = principal_for_key(conn, api_key)
        if found is None:
            raise NotAuthenticatedError("unknown or revoked API key")
        return found
    raise NotAuthenticatedError("credentials required: a bearer token or an X-API-Key header")


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


def require_roles(*roles: Role, action: str) -> Callable[[Principal], Principal]:
    allowed = frozenset(roles)

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise ForbiddenError(principal, action)
        return principal

    return check
