"""Who is calling: users (OAuth2 password flow, short-lived JWTs), API keys, roles, tenancy."""

from ioc_api.auth.deps import CurrentPrincipal, require_roles
from ioc_api.auth.principal import Principal, Role

__all__ = ["CurrentPrincipal", "Principal", "Role", "require_roles"]
