"""Short-lived access tokens (JWT, HS256) for the OAuth2 password flow."""

from __future__ import annotations

import time

import jwt

from ioc_api.auth.principal import Principal, Role
from ioc_core.errors import IocError
from ioc_core.settings import Settings

_ALGORITHM = "HS256"
_INSECURE_DEFAULT = Settings.model_fields["jwt_secret"].default
_DEV_ENVIRONMENTS = {"dev", "test", "demo"}


class TokenError(Exception):
    """A token that is missing, malformed, expired or not ours."""


def check_secret(settings: Settings) -> None:
    """Refuse to serve outside dev/test/demo with the public default secret."""
    if settings.environment not in _DEV_ENVIRONMENTS and settings.jwt_secret == _INSECURE_DEFAULT:
        raise IocError(
            "IOC_JWT_SECRET must be set to a secret of your own outside dev, test and demo "
            f"(IOC_ENVIRONMENT is {settings.environment!r})"
        )


def issue_token(principal: Principal, settings: Settings) -> tuple[str, int]:
    now = int(time.time())
    claims = {
        "sub": principal.name,
        "role": principal.role.value,
        "tenant": principal.tenant_id,
        "iat": now,
        "exp": now + settings.jwt_ttl_s,
        "iss": "haiphong-ioc",
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=_ALGORITHM), settings.jwt_ttl_s


def read_token(token: str, settings: Settings) -> Principal:
    try:
        claims = jwt.decode(
            token, settings.jwt_secret, algorithms=[_ALGORITHM], issuer="haiphong-ioc",
            options={"require": ["exp", "iat", "sub", "role"]},
        )  # fmt: skip
        return Principal(name=claims["sub"], role=Role(claims["role"]), tenant_id=claims["tenant"])
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise TokenError(str(exc)) from exc
