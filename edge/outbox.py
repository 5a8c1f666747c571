"""Store-and-forward queue in SQLite: every message is written here before it is published.

The broker being away (network cut, data-centre maintenance) must not lose intervals: they wait
on the node's disk and are replayed in order, with the timestamps they were made with. Disk is
bounded: past ``max_bytes`` the oldest messages are dropped, and the running total of drops is
kept here and reported in node health, so a gap in the data is explained rather than silent.
The telemetry sequence counter lives here too, so it survives restarts (ingest detects gaps
and duplicates by it).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    topic   TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain  INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: int
    topic: str
    payload: bytes
    retain: bool


class Outbox:
    def __init__(self, path: Path, *, max_bytes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        # WAL: the publisher reads while the pipeline appends; NORMAL sync survives a process
        # crash (not a power cut mid-commit, which costs at most the last few intervals).
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()
        self._bytes = int(row[0])
        self._has_data = threading.Event()
        if self.depth():
            self._has_data.set()

    # --- producer side ---------------------------------------------------------------------

    def put(self, topic: str, payload: bytes, *, retain: bool = False, created: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO outbox (topic, payload, retain, created) VALUES (?, ?, ?, ?)",
                (topic, payload, int(retain), created),
            )
            self._bytes += len(payload)
            if self._bytes > self.max_bytes:
                self._drop_oldest()
        self._has_data.set()

    def _drop_oldest(self) -> None:
        """Oldest first until under the bound; one transaction, counted."""
        dropped = 0
        freed = 0
        last_id = -1
        while self._bytes - freed > self.max_bytes:
            rows = self._db.execute(
                "SELECT id, LENGTH(payload) FROM outbox WHERE id > ? ORDER BY id LIMIT 256",
                (last_id,),
            ).fetchall()
            if not rows:
                break
            for row_id, size in rows:
                if self._bytes - freed <= self.max_bytes:
                    break
                freed += size
                dropped += 1
                last_id = row_id
        if last_id < 0:
            return
        self._db.execute("BEGIN")
        self._db.execute("DELETE FROM outbox WHERE id <= ?", (last_id,))
        self._bump("dropped", dropped)
        self._db.execute("COMMIT")
        self._bytes -= freed

    def next_seq(self) -> int:
        with self._lock:
            return self._bump("seq", 1) - 1

    def _bump(self, key: str, by: int) -> int:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
            (key, by),
        )
        return int(self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    # --- publisher side ----------------------------------------------------------------------

    def wait(self, timeout: float) -> bool:
        return self._has_data.wait(timeout)

    def peek(self, limit: int) -> list[Outgoing]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, retain FROM outbox ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
            if not rows:
                self._has_data.clear()
        return [Outgoing(r[0], r[1], bytes(r[2]), bool(r[3])) for r in rows]

    def ack(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._lock:
            marks = ",".join("?" * len(ids))
            size = self._db.execute(
                f"SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox WHERE id IN ({marks})", ids
            ).fetchone()[0]
            self._db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", ids)
            self._bytes -= int(size)

    # --- reporting ---------------------------------------------------------------------------

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    @property
    def bytes(self) -> int:
        return self._bytes

    def dropped(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
