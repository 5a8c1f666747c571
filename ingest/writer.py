"""The batch writer: binary COPY straight into the hypertable, idempotent on redelivery.

Redelivery is rare (only after a crash or a lost PUBACK), so the common path pays nothing for
it: COPY goes directly into ``telemetry`` inside a savepoint, and the unique index on the
reading identity refuses a duplicate. Only then is the batch replayed through a temporary
staging table with one set-based ``INSERT ... ON CONFLICT DO NOTHING``, which also finds
readings whose value differs from the stored one (first write wins; the other value goes to
``telemetry_conflicts``). Dead letters, device freshness and the touched hours are written in
the same transaction, so a batch is all stored, and then acknowledged, or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from psycopg import Connection, errors

from ingest.readings import DeadLetter

# PostgreSQL's binary COPY (https://www.postgresql.org/docs/15/sql-copy.html), built for a
# whole batch with numpy from the readings-stream records: psycopg's write_row formats row by
# row in Python, a fifth of the writer thread's time. Each row: the field count, then each
# field's length and big-endian value (timestamptz: microseconds since 2000-01-01 UTC).
_COPY_ROW = np.dtype([
    ("n", ">i2"), ("lt", ">i4"), ("t", ">i8"), ("lk", ">i4"), ("k", ">i4"),
    ("lm", ">i4"), ("m", ">i2"), ("lv", ">i4"), ("v", ">f8"),
])  # fmt: skip
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
_COPY_TRAILER = b"\xff\xff"
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds
_STAGE = """CREATE TEMPORARY TABLE IF NOT EXISTS ingest_stage
            (time timestamptz, device_key integer, metric_id smallint, value double precision)
            ON COMMIT DELETE ROWS"""


def _text(value: str | None) -> str | None:
    """What a hostile device put in a name or topic, made storable in a text column.

    PostgreSQL text cannot hold NUL, and a lone surrogate (from a JSON escape like ``\\ud800``)
    cannot be encoded at all; either would fail the whole batch. Both are escaped instead.
    """
    if value is None:
        return None
    return value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def copy_body(records: np.ndarray) -> bytes:
    """A whole binary COPY stream (header, rows, trailer) for ``records``."""
    rows = np.empty(len(records), dtype=_COPY_ROW)
    rows["n"], rows["lt"], rows["lk"], rows["lm"], rows["lv"] = 4, 8, 4, 2, 8
    rows["t"] = records["t"] - _PG_EPOCH_US
    rows["k"] = records["k"]
    rows["m"] = records["m"]
    rows["v"] = records["v"]
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


@dataclass(frozen=True)
class BatchMeta:
    """Per-batch facts the worker gathers while decoding, so the writer need not scan rows."""

    newest: dict[int, datetime]  # device_key -> newest reading time (may be deferred: empty)
    hours: dict[datetime, int]  # hour -> readings in it


@dataclass(frozen=True)
class FlushResult:
    readings: int
    inserted: int
    conflicts: int
    dead_letters: int
    staged: bool  # the duplicate-tolerant path was needed


class BatchWriter:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        conn.autocommit = False
        conn.execute(_STAGE)
        conn.commit()

    def _copy(self, table: str, records: np.ndarray) -> None:
        with self.conn.cursor().copy(
            f"COPY {table} (time, device_key, metric_id, value) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(copy_body(records))

    def _staged_insert(self, records: np.ndarray) -> tuple[int, int]:
        self._copy("ingest_stage", records)
        cur = self.conn.execute(
            """INSERT INTO telemetry_conflicts
                   (time, device_key, metric_id, stored_value, rejected_value)
               SELECT s.time, s.device_key, s.metric_id, t.value, s.value
               FROM ingest_stage s
               JOIN telemetry t USING (device_key, metric_id, time)
               WHERE t.value IS DISTINCT FROM s.value"""
        )
        conflicts = cur.rowcount
        # Within the batch, the first arrival of an identity wins (COPY keeps arrival order).
        cur = self.conn.execute(
            """INSERT INTO telemetry (time, device_key, metric_id, value)
               SELECT time, device_key, metric_id, value FROM ingest_stage
               ON CONFLICT DO NOTHING"""
        )
        return cur.rowcount, conflicts

    def write(
        self, records: np.ndarray, dead: Sequence[DeadLetter], meta: BatchMeta
    ) -> FlushResult:
        """Store a batch: ``records`` are readings-stream ``RECORD``s (``to_records``)."""
        inserted = conflicts = 0
        staged = False
        with self.conn.transaction():
            if len(records):
                try:
                    with self.conn.transaction():  # savepoint: a duplicate undoes only this
                        self._copy("telemetry", records)
                    inserted = len(records)
                except errors.UniqueViolation:
                    staged = True
                    inserted, conflicts = self._staged_insert(records)
                self._record_freshness(meta)
            if dead:
                with self.conn.cursor() as cur:
                    cur.executemany(
                        """INSERT INTO dead_letters (received_at, topic, tenant_id, device_id,
                                                     reason, detail, payload, payload_truncated)
                           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                        [
                            (d.received_at, _text(d.topic), _text(d.tenant_id),
                             _text(d.device_id), d.reason, _text(d.detail), *d.stored_payload)
                            for d in dead
                        ],
                    )  # fmt: skip
        return FlushResult(len(records), inserted, conflicts, len(dead), staged)

    def write_last_seen(self, newest: dict[int, datetime]) -> None:
        """Freshness alone, in its own transaction: what the worker deferred (see
        ``ingest_freshness_interval_s``)."""
        with self.conn.transaction():
            self._last_seen(newest)

    def _last_seen(self, newest: dict[int, datetime]) -> None:
        # Newest reading per device, never moved backwards by a late replay, and capped at
        # now() so a device with a fast clock does not look online after it goes quiet.
        if not newest:
            return
        self.conn.execute(
            """UPDATE devices d SET last_seen = least(v.newest, now())
               FROM unnest(%s::integer[], %s::timestamptz[]) AS v(key, newest)
               WHERE d.key = v.key
                 AND (d.last_seen IS NULL OR d.last_seen < least(v.newest, now()))""",
            (list(newest), list(newest.values())),
        )

    def _record_freshness(self, meta: BatchMeta) -> None:
        self._last_seen(meta.newest)
        # The touched hours stay in the batch's own transaction: the rollups recompute an hour
        # because it is recorded here, so it must never be committed without its rows.
        self.conn.execute(
            """INSERT INTO telemetry_touched_hours AS h (hour, readings)
               SELECT * FROM unnest(%s::timestamptz[], %s::bigint[])
               ON CONFLICT (hour) DO UPDATE
               SET readings = h.readings + EXCLUDED.readings, updated_at = now()""",
            (list(meta.hours), list(meta.hours.values())),
        )
