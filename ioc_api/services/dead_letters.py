"""Rejected messages, as a device maker needs them: why, when, what was sent.

FIWARE IoT Agent topics (``/json/{apikey}/{device}/attrs``) carry the service group's API key,
which is a shared secret of every device of that group: it is replaced by ``***`` in the topic
and wherever the detail repeats it, before anything leaves the database layer.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Final

from psycopg import Connection
from pydantic import BaseModel

from ioc_core.db import fetch_all

REDACTED: Final = "***"
MAX_PAGE: Final = 1_000
_KEEP: Final = frozenset({"", "json", "attrs"})


class DeadLetter(BaseModel):
    id: int
    received_at: datetime
    topic: str
    tenant_id: str | None
    device_id: str | None
    reason: str
    detail: str
    payload_text: str  # UTF-8 with undecodable bytes replaced
    payload_base64: str  # the bytes as stored (but for a masked IoT Agent key)
    payload_truncated: bool


class DeadLetterPage(BaseModel):
    items: list[DeadLetter]
    next_cursor: str | None


def redact_topic(topic: str) -> tuple[str, list[str]]:
    """The topic with an IoT Agent API key masked, and the secrets it masked.

    ``ioc/v1`` topics hold no secret. For a leading-``/`` topic the key's position follows the
    grammar; a topic that does not follow it has every segment but the fixed words masked,
    since any of them might be the key.
    """
    if not topic.startswith("/"):
        return topic, []
    parts = topic.split("/")
    if len(parts) == 5 and parts[1] == "json" and parts[4] == "attrs":
        secret_at = {2}
    elif len(parts) == 4 and parts[3] == "attrs":
        secret_at = {1}
    else:
        secret_at = {i for i, p in enumerate(parts) if p not in _KEEP}
    secrets = [parts[i] for i in sorted(secret_at)]
    return "/".join(REDACTED if i in secret_at else p for i, p in enumerate(parts)), secrets


def _redact_text(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:  # masking "a" everywhere would garble the detail, not protect
            text = text.replace(secret, REDACTED)
    return text


def _redact_bytes(data: bytes, secrets: list[str]) -> bytes:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            data = data.replace(secret.encode(), REDACTED.encode())
    return data


def page_dead_letters(
    conn: Connection, *, tenant: str | None, device_id: str | None, reason: str | None,
    since: datetime | None, before_id: int | None, limit: int,
) -> DeadLetterPage:  # fmt: skip
    """Newest first, keyset on id. A tenant-bound caller sees only rows attributed to its
    tenant; a message whose tenant could not be determined is the operators' to read."""
    limit = max(1, min(limit, MAX_PAGE))
    rows = fetch_all(
        conn,
        """SELECT id, received_at, topic, tenant_id, device_id, reason, detail, payload,
                  payload_truncated
           FROM dead_letters
           WHERE (%(tenant)s::text IS NULL OR tenant_id = %(tenant)s)
             AND (%(device)s::text IS NULL OR device_id = %(device)s)
             AND (%(reason)s::text IS NULL OR reason = %(reason)s)
             AND (%(since)s::timestamptz IS NULL OR received_at >= %(since)s)
             AND (%(before)s::bigint IS NULL OR id < %(before)s)
           ORDER BY id DESC LIMIT %(limit)s""",
        {"tenant": tenant, "device": device_id, "reason": reason, "since": since,
         "before": before_id, "limit": limit + 1},
    )  # fmt: skip
    items = []
    for row in rows[:limit]:
        topic, secrets = redact_topic(row[2])
        payload = _redact_bytes(bytes(row[7]), secrets)
        items.append(DeadLetter(
            id=row[0], received_at=row[1], topic=topic, tenant_id=row[3], device_id=row[4],
            reason=row[5], detail=_redact_text(row[6], secrets),
            payload_text=_redact_text(payload.decode("utf-8", "replace"), secrets),
            payload_base64=base64.b64encode(payload).decode(), payload_truncated=row[8],
        ))  # fmt: skip
    more = len(rows) > limit
    return DeadLetterPage(items=items, next_cursor=str(items[-1].id) if more else None)
