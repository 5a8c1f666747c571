"""Where devices are: registry coordinates, read once at start and again (rate-limited) when
a device appears that was registered after the engine started."""

from __future__ import annotations

import time
from collections.abc import Mapping

from psycopg import Connection
from psycopg.rows import tuple_row

RELOAD_AFTER_MISS_S = 10.0  # wall-clock: a burst of new devices costs one query, not one each


class Locations:
    def __init__(
        self,
        conn: Connection | None = None,
        *,
        known: Mapping[str, tuple[float, float]] | None = None,
        kinds: Mapping[str, str] | None = None,
        reload_after_s: float = RELOAD_AFTER_MISS_S,
    ) -> None:
        self._conn = conn
        self.reload_after_s = reload_after_s
        self._where: dict[str, tuple[float, float]] = dict(known or {})
        self._kinds: dict[str, str] = dict(kinds or {})
        self._loaded = float("-inf")
        self.version = 0  # bumped at every reload: caches built on a smaller registry expire
        if conn is not None:
            self.reload()

    def reload(self) -> None:
        if self._conn is None:
            return
        with self._conn.cursor(row_factory=tuple_row) as cur:
            rows = cur.execute(
                "SELECT id, kind, lat, lon FROM devices WHERE lat IS NOT NULL AND lon IS NOT NULL"
            ).fetchall()
        for device_id, kind, lat, lon in rows:
            self._where[device_id] = (float(lat), float(lon))
            self._kinds[device_id] = kind
        self._loaded = time.monotonic()
        self.version += 1

    def get(self, device_id: str) -> tuple[float, float] | None:
        where = self._where.get(device_id)
        if where is None and time.monotonic() - self._loaded > self.reload_after_s:
            self.reload()
            where = self._where.get(device_id)
        return where

    def of_kind(self, kind: str) -> dict[str, tuple[float, float]]:
        return {d: xy for d, xy in self._where.items() if self._kinds.get(d) == kind}
