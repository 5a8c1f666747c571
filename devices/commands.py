"""Commands to devices: what the API creates and the control loop delivers and tracks.

A command's state only moves forward (queued -> sent -> accepted -> done | failed, rejected or
expired from any earlier state), and every transition is one conditional UPDATE, so an MQTT
redelivery of an ack, a late ``accepted`` after ``done`` or two control loops racing cannot
move a command back. The catalogue of names and arguments is in ``devices.command_catalogue``.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Literal

import orjson
from psycopg import Connection
from psycopg.rows import class_row, tuple_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, JsonValue

from devices.command_catalogue import CommandError, commands_for, validate_command
from devices.errors import DeviceNotFoundError
from devices.payloads import CommandAckV1

__all__ = [
    "CommandError",
    "CommandNotFoundError",
    "CommandOut",
    "CommandState",
    "Outgoing",
    "advance",
    "apply_ack",
    "command_message",
    "commands_for",
    "create_command",
    "due_for_dispatch",
    "expire_due",
    "get_command",
    "list_commands",
    "mark_sent",
]

CommandState = Literal["queued", "sent", "accepted", "done", "failed", "rejected", "expired"]
# Position in the forward order; the four terminal states share the last rank.
_RANK: dict[str, int] = {"queued": 0, "sent": 1, "accepted": 2}
_TERMINAL = 3
DEFAULT_TTL_S = 3_600
# At least the control loop's tick; at most a week, after which an operator should think again.
MIN_TTL_S = 5
MAX_TTL_S = 7 * 86_400


class CommandNotFoundError(LookupError):
    def __init__(self, command_id: uuid.UUID | str) -> None:
        super().__init__(f"no command with id {str(command_id)!r}")
        self.command_id = str(command_id)


class CommandOut(BaseModel):
    id: uuid.UUID
    device_id: str
    name: str
    args: dict[str, JsonValue]
    state: CommandState
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    acked_at: datetime | None
    expires_at: datetime
    detail: str | None
    requested_by: str | None


class Outgoing(CommandOut):
    """A command due for publication, with the tenant its topic needs."""

    tenant_id: str


_COLUMNS = (
    "c.id, c.device_id, c.name, c.args, c.state, c.created_at, c.sent_at, c.attempts, "
    "c.acked_at, c.expires_at, c.detail, c.requested_by"
)


def create_command(
    conn: Connection, device_id: str, name: str, args: dict[str, JsonValue], *,
    ttl_s: int = DEFAULT_TTL_S, requested_by: str | None = None,
) -> CommandOut:  # fmt: skip
    """Validate against the device's kind and queue; the control loop publishes it."""
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(
            "SELECT kind, retired_at IS NOT NULL FROM devices WHERE id = %s", (device_id,)
        ).fetchone()
    if row is None:
        raise DeviceNotFoundError(device_id)
    if row[1]:
        raise CommandError([("device_id", f"device {device_id!r} is retired")])
    if not MIN_TTL_S <= ttl_s <= MAX_TTL_S:
        raise CommandError([("ttl_s", f"must be between {MIN_TTL_S} and {MAX_TTL_S} seconds")])
    normalised = validate_command(row[0], name, args)
    with conn.cursor(row_factory=class_row(CommandOut)) as cur:
        created = cur.execute(
            f"""INSERT INTO commands AS c (device_id, name, args, expires_at, requested_by)
                VALUES (%s, %s, %s, now() + make_interval(secs => %s), %s)
                RETURNING {_COLUMNS}""",
            (device_id, name, Jsonb(normalised), ttl_s, requested_by),
        ).fetchone()
    assert created is not None
    return created


def get_command(conn: Connection, command_id: uuid.UUID | str) -> CommandOut:
    with conn.cursor(row_factory=class_row(CommandOut)) as cur:
        found = cur.execute(
            f"SELECT {_COLUMNS} FROM commands c WHERE c.id = %s", (_as_uuid(command_id),)
        ).fetchone()
    if found is None:
        raise CommandNotFoundError(command_id)
    return found


def list_commands(conn: Connection, device_id: str, *, limit: int = 100) -> list[CommandOut]:
    """The device's newest commands first."""
    with conn.cursor(row_factory=class_row(CommandOut)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM commands c WHERE c.device_id = %s "
            "ORDER BY c.created_at DESC, c.id LIMIT %s",
            (device_id, limit),
        ).fetchall()


def advance(
    conn: Connection, command_id: uuid.UUID | str, state: CommandState, *,
    detail: str | None = None, device_id: str | None = None,
) -> bool:  # fmt: skip
    """Move to ``state`` if that is forward; False (and nothing changed) otherwise.

    ``device_id`` restricts the update to that device's commands, so a device cannot settle
    another device's command by quoting its id.
    """
    rank = _RANK.get(state, _TERMINAL)
    updated = conn.execute(
        """UPDATE commands SET state = %(state)s, detail = coalesce(%(detail)s, detail),
                  sent_at = CASE WHEN %(sent)s THEN coalesce(sent_at, now()) ELSE sent_at END,
                  acked_at = CASE WHEN %(acked)s THEN now() ELSE acked_at END
           WHERE id = %(id)s AND coalesce(%(device)s = device_id, true)
             AND coalesce(array_position(ARRAY['queued', 'sent', 'accepted'], state) - 1, 99)
                 < %(rank)s""",
        {"state": state, "detail": detail, "sent": state == "sent", "id": _as_uuid(command_id),
         "acked": rank >= _RANK["accepted"] and state != "expired", "device": device_id,
         "rank": rank},
    )  # fmt: skip
    return updated.rowcount == 1


def apply_ack(conn: Connection, device_id: str, ack: CommandAckV1) -> bool:
    """Record a device's acknowledgement; :class:`CommandNotFoundError` if it is not its own."""
    try:
        command_id = uuid.UUID(ack.id)
    except ValueError:
        raise CommandNotFoundError(ack.id) from None
    if advance(conn, command_id, ack.status, detail=ack.detail, device_id=device_id):
        return True
    with conn.cursor(row_factory=tuple_row) as cur:
        owner = cur.execute(
            "SELECT device_id FROM commands WHERE id = %s", (command_id,)
        ).fetchone()
    if owner is None or owner[0] != device_id:
        raise CommandNotFoundError(ack.id)
    return False  # a repeat or an ack that came too late: already at or past that state


def mark_sent(conn: Connection, ids: Collection[uuid.UUID]) -> int:
    """After publication: ``sent`` (kept if later), and one more attempt counted."""
    if not ids:
        return 0
    return conn.execute(
        """UPDATE commands SET state = CASE WHEN state = 'queued' THEN 'sent' ELSE state END,
                  sent_at = coalesce(sent_at, now()), attempts = attempts + 1
           WHERE id = ANY(%s) AND state IN ('queued', 'sent')""",
        (list(ids),),
    ).rowcount


def expire_due(conn: Connection) -> list[uuid.UUID]:
    """Commands not delivered or not acknowledged within their TTL become ``expired``.

    ``accepted`` ones are left alone: the device has the command and owes its outcome.
    """
    with conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(
            """UPDATE commands SET detail = coalesce(detail, CASE state
                    WHEN 'queued' THEN 'the device was not online before the TTL ran out'
                    ELSE 'the device did not acknowledge before the TTL ran out' END),
                  state = 'expired'
           WHERE state IN ('queued', 'sent') AND expires_at <= now() RETURNING id"""
        ).fetchall()
    return [row[0] for row in rows]


def due_for_dispatch(
    conn: Connection, *, resend_to: Collection[str] = (), limit: int = 500
) -> list[Outgoing]:
    """Queued commands of devices whose latest status is online, oldest first; plus, for the
    devices in ``resend_to`` (which just announced themselves online), those already sent but
    not acknowledged, since a device with a clean session lost what the broker held for it."""
    with conn.cursor(row_factory=class_row(Outgoing)) as cur:
        return cur.execute(
            f"""SELECT {_COLUMNS}, d.tenant_id FROM commands c JOIN devices d ON d.id = c.device_id
                WHERE c.state IN ('queued', 'sent') AND c.expires_at > now()
                  AND ((c.state = 'queued' AND (
                          SELECT e.state FROM device_status_events e WHERE e.device_id = c.device_id
                          ORDER BY e.time DESC, e.id DESC LIMIT 1) = 'online')
                       OR (c.state = 'sent' AND c.device_id = ANY(%s)))
                ORDER BY c.created_at LIMIT %s""",
            (list(resend_to), limit),
        ).fetchall()


def command_message(command: CommandOut) -> bytes:
    """The ``CommandV1`` wire form (``v``, ``id``, ``ts``, ``name``, ``args``).

    Serialised directly rather than through ``CommandV1``, whose ``args`` admits flat scalars
    only, while ``schedule`` and ``update_config`` carry lists.
    """
    return orjson.dumps(
        {"v": 1, "id": str(command.id), "ts": datetime.now(UTC).isoformat(),
         "name": command.name, "args": command.args}
    )  # fmt: skip


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandNotFoundError(value) from None
