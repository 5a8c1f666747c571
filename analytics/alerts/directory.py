"""Who a reading is about: telemetry rows name devices and metrics by compact integer keys;
detectors need the device id, tenant, kind and commune, and the metric's name.

The whole registry is small (thousands of devices), so it is held in memory and reloaded every
``REFRESH_S``, and at once (at most every ``MISS_RELOAD_S``) when a key is unknown: a device
registered a moment ago is judged from its first reading.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import psycopg
from psycopg import Connection
from psycopg.rows import tuple_row

__all__ = ["DeviceDirectory", "DeviceInfo"]

log = logging.getLogger(__name__)

REFRESH_S = 30.0
MISS_RELOAD_S = 2.0


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    id: str
    tenant_id: str
    kind: str
    commune_code: str | None


class DeviceDirectory:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.by_key: dict[int, DeviceInfo] = {}
        self.by_id: dict[str, DeviceInfo] = {}
        self.metrics: dict[int, str] = {}
        self._loaded = 0.0
        self.reload()

    def reload(self) -> None:
        with self._conn.cursor(row_factory=tuple_row) as cur:
            rows = cur.execute(
                "SELECT key, id, tenant_id, kind, commune_code FROM devices"
                " WHERE retired_at IS NULL"
            ).fetchall()
            metrics = cur.execute("SELECT id, name FROM metrics").fetchall()
        self.by_key = {k: DeviceInfo(i, t, kind, c) for k, i, t, kind, c in rows}
        self.by_id = {d.id: d for d in self.by_key.values()}
        self.metrics = dict(metrics)
        self._loaded = time.monotonic()

    def use_connection(self, conn: Connection) -> None:
        self._conn = conn

    def maybe_refresh(self, *, missed: bool = False) -> None:
        """Reload when due; while the database is away the last copy serves (retried at the
        next miss or period)."""
        age = time.monotonic() - self._loaded
        if age > REFRESH_S or (missed and age > MISS_RELOAD_S):
            try:
                self.reload()
            except psycopg.Error as exc:
                self._loaded = time.monotonic()
                log.warning("registry reload failed, keeping the last copy: %s", exc)

    def device(self, key: int) -> DeviceInfo | None:
        info = self.by_key.get(key)
        if info is None:
            self.maybe_refresh(missed=True)
            info = self.by_key.get(key)
        return info

    def device_by_id(self, device_id: str) -> DeviceInfo | None:
        info = self.by_id.get(device_id)
        if info is None:
            self.maybe_refresh(missed=True)
            info = self.by_id.get(device_id)
        return info
