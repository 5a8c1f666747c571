"""Reading the registry: one device, or a filtered listing in pages.

Pages are keyed by id (``after`` = the last id of the previous page) rather than by offset: a
device registered while an operator pages through 20,000 neither shifts nor repeats rows, and
every page is an index range scan however deep it is.
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.rows import class_row, tuple_row

from devices.errors import DeviceNotFoundError, DeviceValidationError, Problem
from devices.registry_models import MAX_PAGE, DeviceOut, DevicePage, StatusFilter
from devices.registry_validation import resolve_commune

__all__ = [
    "OFFLINE_AFTER_INTERVALS",
    "SILENCE_LIMIT_S_SQL",
    "get_device",
    "list_devices",
    "page_devices",
]

# Missed intervals before a device counts as offline; 3 tolerates one lost reading and jitter.
OFFLINE_AFTER_INTERVALS = 3
# Seconds a device ``d`` may stay silent before it counts as offline: OFFLINE_AFTER_INTERVALS
# (the ``%(k)s`` parameter) of its kind's shortest reporting interval. One SQL fragment, so
# the registry's derived status and the liveness sweep cannot disagree.
SILENCE_LIMIT_S_SQL = (
    "%(k)s * coalesce((SELECT min(m.interval_s) FROM metrics m WHERE m.kind = d.kind), 60)"
)

_SELECT = f"""
SELECT d.id, d.kind, d.tenant_id AS tenant, d.commune_code, c.full_name AS commune_name,
       d.lat, d.lon, d.address, d.last_seen, d.install_date, d.firmware, d.tags,
       d.attributes -> 'levels' AS levels, d.retired_at,
       CASE WHEN d.last_seen IS NULL THEN 'never_seen'
            WHEN d.last_seen > now() - make_interval(secs => {SILENCE_LIMIT_S_SQL})
            THEN 'online' ELSE 'offline' END AS status
FROM devices d LEFT JOIN communes c ON c.code = d.commune_code
"""


def get_device(conn: Connection, device_id: str) -> DeviceOut:
    """One device, retired or not (a retired device's page still explains its history)."""
    with conn.cursor(row_factory=class_row(DeviceOut)) as cur:
        row = cur.execute(
            _SELECT + " WHERE d.id = %(id)s", {"k": OFFLINE_AFTER_INTERVALS, "id": device_id}
        ).fetchone()
    if row is None:
        raise DeviceNotFoundError(device_id)
    return row


def _filtered(
    *,
    kind: str | None,
    tenant: str | None,
    commune: str | None,
    tag: str | None,
    status: StatusFilter | None,
) -> tuple[str, dict[str, Any]]:
    """The matching rows as a subquery ``s`` with its parameters; fixed SQL fragments only."""
    params: dict[str, Any] = {"k": OFFLINE_AFTER_INTERVALS, "kind": kind, "tenant": tenant,
                              "tag": tag, "status": status}  # fmt: skip
    where = ["d.retired_at IS NOT NULL" if status == "retired" else "d.retired_at IS NULL"]
    if kind:
        where.append("d.kind = %(kind)s")
    if tenant:
        where.append("d.tenant_id = %(tenant)s")
    if commune:
        try:
            params["commune"] = resolve_commune(commune).code
        except KeyError as exc:
            raise DeviceValidationError(None, [Problem("commune", str(exc.args[0]))]) from None
        where.append("d.commune_code = %(commune)s")
    if tag:
        where.append("d.tags @> ARRAY[%(tag)s::text]")
    outer = " WHERE s.status = %(status)s" if status and status != "retired" else " WHERE true"
    return f"SELECT * FROM ({_SELECT} WHERE {' AND '.join(where)}) s{outer}", params


def page_devices(
    conn: Connection,
    *,
    kind: str | None = None,
    tenant: str | None = None,
    commune: str | None = None,
    tag: str | None = None,
    status: StatusFilter | None = None,
    after: str | None = None,
    limit: int = MAX_PAGE,
) -> DevicePage:
    """Devices in id order after ``after``; retired ones only with ``status="retired"``.
    ``commune`` takes a code or a name; an unknown one is a DeviceValidationError."""
    query, params = _filtered(kind=kind, tenant=tenant, commune=commune, tag=tag, status=status)
    with conn.cursor(row_factory=tuple_row) as cur:
        total = cur.execute(f"SELECT count(*) FROM ({query}) n", params).fetchone()
    page = query + (" AND s.id > %(after)s" if after is not None else "")
    params.update(after=after, limit=limit + 1)
    with conn.cursor(row_factory=class_row(DeviceOut)) as cur:
        items = cur.execute(f"{page} ORDER BY s.id LIMIT %(limit)s", params).fetchall()
    more = len(items) > limit
    items = items[:limit]
    return DevicePage(
        items=items, total=total[0] if total else 0, next_after=items[-1].id if more else None
    )


def list_devices(
    conn: Connection,
    *,
    kind: str | None = None,
    tenant: str | None = None,
    commune: str | None = None,
    tag: str | None = None,
    status: StatusFilter | None = None,
) -> list[DeviceOut]:
    """Every matching device in id order (no paging: for callers that want them all)."""
    query, params = _filtered(kind=kind, tenant=tenant, commune=commune, tag=tag, status=status)
    with conn.cursor(row_factory=class_row(DeviceOut)) as cur:
        return cur.execute(query + " ORDER BY s.id", params).fetchall()
