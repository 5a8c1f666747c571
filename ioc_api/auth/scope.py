"""Tenant isolation and write permission, applied the same way by every route.

A principal bound to a tenant sees that tenant's devices only. Someone else's device answers
404, exactly like a device that does not exist, so ids cannot be probed across agencies.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from psycopg import Connection

from devices.errors import DeviceNotFoundError
from devices.registry import DeviceOut, get_device
from ioc_api.auth.deps import CurrentPrincipal, ForbiddenError, require_roles
from ioc_api.auth.principal import DEVICE_WRITERS, Principal, Role

READERS = (Role.OPERATOR, Role.ENVIRONMENT_STAFF, Role.AGENCY_ADMIN, Role.VIEWER)

Reader = Annotated[Principal, Depends(require_roles(*READERS, action="read devices"))]
Writer = Annotated[Principal, Depends(require_roles(*DEVICE_WRITERS, action="change devices"))]
CityOperator = Annotated[
    Principal, Depends(require_roles(Role.OPERATOR, action="import devices city-wide"))
]


def visible_device(conn: Connection, principal: Principal, device_id: str) -> DeviceOut:
    device = get_device(conn, device_id)
    if not principal.may_see_tenant(device.tenant):
        raise DeviceNotFoundError(device_id)
    return device


def tenant_filter(principal: Principal, requested: str | None) -> str | None:
    """The tenant a listing is limited to: the principal's own, whatever was asked."""
    if principal.tenant_scope is None:
        return requested
    if requested not in (None, principal.tenant_scope):
        raise ForbiddenError(principal, f"list the devices of tenant {requested!r}")
    return principal.tenant_scope


def check_owns_tenant(principal: Principal, tenant_id: str) -> None:
    if not principal.may_see_tenant(tenant_id):
        raise ForbiddenError(principal, f"manage devices of tenant {tenant_id!r}")


def require_city_wide(principal: CurrentPrincipal) -> Principal:
    if principal.tenant_scope is not None:
        raise ForbiddenError(principal, "do this for the whole city")
    return principal
