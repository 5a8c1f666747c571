"""The caller of a request, and the one rule of tenancy every query applies."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"  # IOC operators: the whole city
    ENVIRONMENT_STAFF = "environment_staff"  # Sở NN&MT: thresholds, AQI, the whole city
    AGENCY_ADMIN = "agency_admin"  # an agency or enterprise: its own devices only
    VIEWER = "viewer"  # read-only; city-wide or bound to a tenant
    OPEN_DATA = "open_data"  # the open-data endpoints only


# Roles that may change devices (their own tenant's, for agency admins).
DEVICE_WRITERS = frozenset({Role.OPERATOR, Role.AGENCY_ADMIN})


@dataclass(frozen=True)
class Principal:
    name: str  # username, or "key:<prefix>" for an API key
    role: Role
    tenant_id: str | None  # None: not bound to a tenant (city-wide)

    @property
    def tenant_scope(self) -> str | None:
        """The tenant a query must be limited to, or None for the whole city.

        Tenant-bound principals see their tenant only, whatever their role; that is the whole
        of tenant isolation, applied by every service call that takes ``tenant``.
        """
        return self.tenant_id

    def may_see_tenant(self, tenant_id: str) -> bool:
        return self.tenant_id is None or self.tenant_id == tenant_id
