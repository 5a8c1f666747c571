"""The batch writer: binary COPY into a staging table, then one idempotent INSERT.

COPY cannot skip duplicates, and ``INSERT ... ON CONFLICT`` row by row is an order of magnitude
slower; COPY into a session-private temporary table followed by one set-based
``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` keeps COPY's speed and makes redelivery
harmless. Dead letters and device freshness are written in the same transaction, so a batch is
all stored (and then acknowledged) or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from psycopg import Connection

from ingest.decode import DeadLetter

_STAGE = """CREATE TEMPORARY TABLE IF NOT EXISTS ingest_stage
            (time timestamptz, device_id text, metric_id smallint, value double precision)
            ON COMMIT DELETE ROWS"""
_COPY = "COPY ingest_stage (time, device_id, metric_id, value) FROM STDIN (FORMAT BINARY)"


@dataclass(frozen=True)
class FlushResult:
    readings: int
    inserted: int
    dead_letters: int


class BatchWriter:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        conn.autocommit = False
        conn.execute(_STAGE)
        conn.commit()

    def write(
        self, rows: Sequence[tuple[datetime, str, int, float]], dead: Sequence[DeadLetter]
    ) -> FlushResult:
        inserted = 0
        with self.conn.transaction(), self.conn.cursor() as cur:
            if rows:
                with cur.copy(_COPY) as copy:
                    copy.set_types(["timestamptz", "text", "int2", "float8"])
                    for row in rows:
                        copy.write_row(row)
                cur.execute(
                    """INSERT INTO telemetry (time, device_id, metric_id, value)
                       SELECT time, device_id, metric_id, value FROM ingest_stage
                       ON CONFLICT DO NOTHING"""
                )
                inserted = cur.rowcount
                # Freshness from the newest reading per device, never moved backwards by a
                # late replay; capped at now() so a fast device clock cannot look "online" later.
                cur.execute(
                    """UPDATE devices d SET last_seen = least(s.newest, now())
                       FROM (SELECT device_id, max(time) AS newest
                             FROM ingest_stage GROUP BY device_id) s
                       WHERE d.id = s.device_id
                         AND (d.last_seen IS NULL OR d.last_seen < least(s.newest, now()))"""
                )
            if dead:
                cur.executemany(
                    """INSERT INTO dead_letters (received_at, topic, tenant_id, device_id, reason,
                                                 detail, payload, payload_truncated)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                    [
                        (d.received_at, d.topic, d.tenant_id, d.device_id, d.reason, d.detail,
                         *d.stored_payload)
                        for d in dead
                    ],
                )  # fmt: skip
        return FlushResult(readings=len(rows), inserted=inserted, dead_letters=len(dead))
