"""Device liveness: the history of online/offline transitions, connectivity alerts, uptime.

Only transitions are stored (an event whose state equals the device's latest is dropped), so a
retained ``online`` delivered again after a restart, or a sweep run every second, adds nothing,
and uptime is a sum over spans between consecutive events. Four sources feed it: the device's
own status message, its MQTT last will, telemetry after an offline, and silence: no reading for
``OFFLINE_AFTER_INTERVALS`` of its kind's shortest interval, the rule ``devices.registry``
uses for the derived status, so the wall and the history agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg import Connection
from psycopg.abc import Params
from psycopg.rows import class_row, tuple_row
from pydantic import BaseModel

from devices.errors import DeviceNotFoundError
from devices.payloads import StatusV1
from devices.registry import OFFLINE_AFTER_INTERVALS
from devices.registry_query import SILENCE_LIMIT_S_SQL

__all__ = [
    "SilenceSweep",
    "StatusEventOut",
    "Uptime",
    "latest_state",
    "mark_silent_devices",
    "record_status_event",
    "record_status_message",
    "status_history",
    "uptime",
]

StatusState = Literal["online", "offline"]
StatusSource = Literal["device", "will", "telemetry", "silence"]
# A last will carries the connect time as its ts (docs/mqtt.md); a goodbye is stamped later.
# The slack covers devices that write whole seconds in both.
_WILL_SLACK = timedelta(seconds=1)
_LATEST = """(SELECT e.{col} FROM device_status_events e WHERE e.device_id = {device}
               ORDER BY e.time DESC, e.id DESC LIMIT 1)"""


class StatusEventOut(BaseModel):
    time: datetime
    state: StatusState
    source: StatusSource
    reason: str | None
    device_ts: datetime | None


class Uptime(BaseModel):
    """Seconds online, offline and of unknown state (before a device's first event) in the
    window, summed over ``devices``; ``ratio`` is online over known time."""

    device_id: str | None
    tenant: str | None
    since: datetime
    until: datetime
    devices: int
    online_s: float
    offline_s: float
    unknown_s: float
    ratio: float | None


@dataclass
class SilenceSweep:
    went_offline: list[str] = field(default_factory=list)
    came_back: list[str] = field(default_factory=list)


def _row(conn: Connection, query: str, params: Params | None = None) -> tuple[Any, ...] | None:
    """One row as a tuple, whatever row factory the caller's connection has (the API's pool
    hands out dict rows)."""
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute(query, params).fetchone()


def latest_state(conn: Connection, device_id: str) -> StatusState | None:
    row = _row(conn, "SELECT " + _LATEST.format(col="state", device="%s"), (device_id,))
    return None if row is None else row[0]


def record_status_event(
    conn: Connection, device_id: str, state: StatusState, *, source: StatusSource,
    reason: str | None = None, device_ts: datetime | None = None,
) -> bool:  # fmt: skip
    """Append a transition; False when the device is already in ``state``."""
    inserted = conn.execute(
        f"""INSERT INTO device_status_events (device_id, state, source, reason, device_ts)
            SELECT %(d)s, %(state)s, %(source)s, %(reason)s, %(ts)s
            WHERE {_LATEST.format(col="state", device="%(d)s")} IS DISTINCT FROM %(state)s""",
        {"d": device_id, "state": state, "source": source, "reason": reason, "ts": device_ts},
    )
    return inserted.rowcount == 1


def record_status_message(conn: Connection, device_id: str, status: StatusV1) -> bool:
    """A ``status`` message: ``device`` as source, or ``will`` for an offline stamped no later
    than the device's latest online (its last will, written when it connected)."""
    source: StatusSource = "device"
    if status.state == "offline":
        row = _row(
            conn,
            """SELECT device_ts FROM device_status_events WHERE device_id = %s
               AND state = 'online' AND source = 'device' ORDER BY time DESC, id DESC LIMIT 1""",
            (device_id,),
        )
        if row is not None and row[0] is not None and status.ts <= row[0] + _WILL_SLACK:
            source = "will"
    return record_status_event(
        conn, device_id, status.state, source=source, reason=status.reason, device_ts=status.ts
    )


def status_history(
    conn: Connection, device_id: str, *, since: datetime | None = None,
    until: datetime | None = None, limit: int = 1_000,
) -> list[StatusEventOut]:  # fmt: skip
    """Newest first."""
    with conn.cursor(row_factory=class_row(StatusEventOut)) as cur:
        return cur.execute(
            """SELECT time, state, source, reason, device_ts FROM device_status_events
               WHERE device_id = %(d)s AND time >= coalesce(%(since)s::timestamptz, '-infinity')
                 AND time < coalesce(%(until)s::timestamptz, 'infinity')
               ORDER BY time DESC, id DESC LIMIT %(limit)s""",
            {"d": device_id, "since": since, "until": until, "limit": limit},
        ).fetchall()


_SWEEP = f"""
WITH seen AS (
    SELECT d.id, d.tenant_id, d.last_seen, l.state, l.source, l.time AS changed,
           {SILENCE_LIMIT_S_SQL} AS limit_s
    FROM devices d
    LEFT JOIN LATERAL (SELECT e.state, e.source, e.time FROM device_status_events e
                       WHERE e.device_id = d.id
                       ORDER BY e.time DESC, e.id DESC LIMIT 1) l ON true
    WHERE d.last_seen IS NOT NULL AND d.retired_at IS NULL
), judged AS (
    SELECT *, last_seen <= now() - make_interval(secs => limit_s) AS stale,
           -- Back: first seen, or seen after going offline. Readings stamped before a last
           -- will or a goodbye do not count; after silence, any new reading does.
           (state IS NULL OR (state = 'offline' AND (source = 'silence' OR last_seen > changed)))
               AS back,
           EXISTS (SELECT 1 FROM alerts a WHERE a.device_id = seen.id
                   AND a.kind = 'connectivity' AND a.state IN ('open', 'acknowledged'))
               AS alerted
    FROM seen
)
SELECT id, tenant_id, last_seen, limit_s, stale, back FROM judged
WHERE (stale AND (state IS DISTINCT FROM 'offline' OR NOT alerted))
   OR (NOT stale AND (alerted OR back))
"""


def mark_silent_devices(conn: Connection) -> SilenceSweep:
    """Silent devices go offline (source ``silence``) with one open connectivity alert; devices
    seen again after an offline go online (source ``telemetry``) and their alert is resolved.

    Only devices needing a change come back from the query, so a pass over a quiet city costs
    one index-driven scan.
    """
    sweep = SilenceSweep()
    with conn.transaction():
        conn.execute(  # a retired device is not coming back: nobody should chase its alert
            """UPDATE alerts a SET state = 'resolved', resolved_at = now(), updated_at = now()
               FROM devices d WHERE d.id = a.device_id AND d.retired_at IS NOT NULL
                 AND a.kind = 'connectivity' AND a.state IN ('open', 'acknowledged')"""
        )
        with conn.cursor(row_factory=tuple_row) as cur:
            rows = cur.execute(_SWEEP, {"k": OFFLINE_AFTER_INTERVALS}).fetchall()
        for device_id, tenant_id, last_seen, limit_s, stale, back in rows:
            if stale:
                reason = f"nothing received for {limit_s} s; last seen {last_seen.isoformat()}"
                if record_status_event(conn, device_id, "offline", source="silence",
                                       reason=reason):  # fmt: skip
                    sweep.went_offline.append(device_id)
                _open_alert(conn, device_id, tenant_id, reason)
                continue
            if back and record_status_event(conn, device_id, "online", source="telemetry"):
                sweep.came_back.append(device_id)
            conn.execute(
                """UPDATE alerts SET state = 'resolved', resolved_at = now(), updated_at = now()
                   WHERE device_id = %s AND kind = 'connectivity'
                     AND state IN ('open', 'acknowledged')""",
                (device_id,),
            )
    return sweep


def _open_alert(conn: Connection, device_id: str, tenant_id: str, detail: str) -> None:
    conn.execute(
        # One live alert per (kind, device, key): the alert engine's index (migration 0012),
        # which may already have opened this one from the device's last will.
        """INSERT INTO alerts (kind, severity, device_id, tenant_id, commune_code, title,
                               detail, reason, source)
           SELECT 'connectivity', 'warning', %(d)s, %(t)s, d.commune_code, %(title)s,
                  %(detail)s, %(detail)s, 'liveness'
           FROM devices d WHERE d.id = %(d)s
           ON CONFLICT (kind, device_id, key) WHERE state IN ('open', 'acknowledged')
           DO NOTHING""",
        {"d": device_id, "t": tenant_id, "title": f"{device_id} is offline", "detail": detail},
    )


_UPTIME = """
WITH devs AS (SELECT id FROM devices
              WHERE id = %(device)s OR (tenant_id = %(tenant)s AND retired_at IS NULL)),
ev AS (
    SELECT e.device_id, e.time AS t, e.id, e.state FROM device_status_events e
    WHERE e.device_id IN (SELECT id FROM devs) AND e.time > %(lo)s AND e.time < %(hi)s
    UNION ALL
    SELECT p.device_id, %(lo)s, p.id, p.state FROM devs d CROSS JOIN LATERAL (
        SELECT e.device_id, e.id, e.state FROM device_status_events e
        WHERE e.device_id = d.id AND e.time <= %(lo)s ORDER BY e.time DESC, e.id DESC LIMIT 1) p
), spans AS (
    SELECT state, lead(t, 1, %(hi)s) OVER (PARTITION BY device_id ORDER BY t, id) - t AS span
    FROM ev
)
SELECT (SELECT count(*) FROM devs),
       coalesce(extract(epoch FROM sum(span) FILTER (WHERE state = 'online')), 0)::float8,
       coalesce(extract(epoch FROM sum(span) FILTER (WHERE state = 'offline')), 0)::float8
FROM spans
"""


def uptime(
    conn: Connection, *, device_id: str | None = None, tenant: str | None = None,
    since: datetime, until: datetime,
) -> Uptime:  # fmt: skip
    """Uptime of one device, or of every device of a tenant (an agency), over [since, until);
    time after now is not counted."""
    if (device_id is None) == (tenant is None):
        raise ValueError("give exactly one of device_id and tenant")
    if until <= since:
        raise ValueError("until must be after since")
    clock = _row(conn, "SELECT now()")
    assert clock is not None
    hi = max(since, min(until, clock[0]))
    row = _row(conn, _UPTIME, {"device": device_id, "tenant": tenant, "lo": since, "hi": hi})
    assert row is not None
    devices, online, offline = int(row[0]), float(row[1]), float(row[2])
    if device_id is not None and devices == 0:
        raise DeviceNotFoundError(device_id)
    total = (hi - since).total_seconds() * devices
    known = online + offline
    return Uptime(
        device_id=device_id, tenant=tenant, since=since, until=until, devices=devices,
        online_s=online, offline_s=offline, unknown_s=max(0.0, total - known),
        ratio=online / known if known else None,
    )  # fmt: skip
