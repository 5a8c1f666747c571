"""An in-memory copy of what ingest must know per message: devices and the metric catalogue.

Looking these up in the database per message would cost a round trip each; instead the whole
(small) registry is reloaded periodically, and at once (rate-limited) when an unknown device
shows up, that one device is looked up on its own: a device provisioned a moment ago is
accepted at once, while a flood of unknown ids costs one indexed look-up per id per
``NEGATIVE_TTL_S``, not a reload each.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from psycopg import Connection
from psycopg.rows import tuple_row

REFRESH_EVERY_S = 30.0
NEGATIVE_TTL_S = 5.0
_NEGATIVE_MAX = 100_000  # bound on remembered unknown ids, against random-id floods


@dataclass(frozen=True, slots=True)
class CachedDevice:
    tenant_id: str
    kind: str
    key: int  # telemetry's compact device key


@dataclass(frozen=True, slots=True)
class CachedMetric:
    id: int
    min_value: float
    max_value: float
    unit: str


class RegistryCache:
    def __init__(self, conn: Connection) -> None:
        """``conn`` is ingest's own autocommit connection for look-ups, not the writer's."""
        self._conn = conn
        self._lock = threading.Lock()
        self._devices: dict[str, CachedDevice] = {}
        self._metrics: dict[tuple[str, str], CachedMetric] = {}
        self._unknown: dict[str, float] = {}
        self._loaded_at = 0.0
        self.reload()

    def reload(self) -> None:
        with self._lock, self._conn.cursor(row_factory=tuple_row) as cur:
            devices = {
                r[0]: CachedDevice(r[1], r[2], r[3])
                for r in cur.execute("SELECT id, tenant_id, kind, key FROM devices")
            }
            metrics = {
                (r[0], r[1]): CachedMetric(r[2], r[3], r[4], r[5])
                for r in cur.execute(
                    "SELECT kind, name, id, min_value, max_value, unit FROM metrics"
                )
            }
            self._devices, self._metrics = devices, metrics
            self._unknown.clear()
            self._loaded_at = time.monotonic()

    def maybe_refresh(self) -> None:
        if time.monotonic() - self._loaded_at > REFRESH_EVERY_S:
            self.reload()

    def device(self, device_id: str) -> CachedDevice | None:
        found = self._devices.get(device_id)
        if found is not None:
            return found
        now = time.monotonic()
        if now - self._unknown.get(device_id, -NEGATIVE_TTL_S) < NEGATIVE_TTL_S:
            return None
        with self._lock, self._conn.cursor(row_factory=tuple_row) as cur:
            row = cur.execute(
                "SELECT tenant_id, kind, key FROM devices WHERE id = %s", (device_id,)
            ).fetchone()
        if row is None:
            if len(self._unknown) >= _NEGATIVE_MAX:
                self._unknown.clear()
            self._unknown[device_id] = now
            return None
        found = self._devices[device_id] = CachedDevice(row[0], row[1], row[2])
        return found

    def metric(self, kind: str, name: str) -> CachedMetric | None:
        return self._metrics.get((kind, name))
