"""Register a simulated fleet through the registry, as provisioning would.

Devices go in with ``devices.registry.upsert_device`` (in one pipelined transaction, so a
100,000-device city registers in seconds), then the packages' post-migrate hooks run so the
gauges' alert and danger levels become threshold rules, exactly as after an API registration.
With a secure broker each device gets its own account (a fresh password at every start: the
old plaintext is never kept) and the broker's password and ACL files are regenerated.
"""

from __future__ import annotations

from devices.broker_auth import sync_broker_auth
from devices.credentials import issue_credentials
from devices.registry import ensure_tenant, upsert_device
from ioc_core.db import connect_db
from ioc_core.plugins import post_migrate_hooks
from ioc_core.settings import Settings
from simulators.city import TENANT_NAMES, SimDevice


def register_fleet(settings: Settings, fleet: list[SimDevice]) -> dict[str, tuple[str, str]]:
    """Register (or update) every device; with a secure broker, return (username, password)."""
    logins: dict[str, tuple[str, str]] = {}
    with connect_db(settings) as conn:
        with conn.transaction():
            for tenant in sorted({d.device.tenant_id for d in fleet}):
                ensure_tenant(conn, tenant, TENANT_NAMES.get(tenant, tenant))
            with conn.pipeline():
                for dev in fleet:
                    upsert_device(conn, dev.device)
        if any(d.kind == "water_level_gauge" for d in fleet):
            for _name, hook in post_migrate_hooks():
                with conn.transaction():
                    hook(conn)
        conn.commit()
        if settings.mqtt_secure:
            for dev in fleet:
                issued = issue_credentials(conn, dev.id, replace=True)
                logins[dev.id] = (issued.username, issued.password)
            conn.commit()
            sync_broker_auth(settings, conn)
    return logins
