"""An in-memory copy of what ingest must know per message: devices, the metric catalogue and
the FIWARE IoT Agent service groups (what an API key means).

Looking these up in the database per message would cost a round trip each; instead the whole
(small) registry is reloaded periodically, and at once (rate-limited) when an unknown device
shows up, that one device is looked up on its own: a device provisioned a moment ago is
accepted at once, while a flood of unknown ids costs one indexed look-up per id per
``NEGATIVE_TTL_S``, not a reload each. Unknown API keys are treated the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

import psycopg
from psycopg import Connection, Cursor
from psycopg.rows import tuple_row

log = logging.getLogger(__name__)
_T = TypeVar("_T")

REFRESH_EVERY_S = 30.0
# Retired devices keep their row (their readings point at it) but may no longer send.
_ONE_DEVICE = "SELECT tenant_id, kind, key FROM devices WHERE id = %s AND retired_at IS NULL"
_RECONNECT_BACKOFF_S = 2.0
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


@dataclass(frozen=True, slots=True)
class CachedServiceGroup:
    tenant_id: str
    kind: str
    attributes: Mapping[str, str]  # IoT Agent object_id -> metric name; read-only


def _service_group(tenant_id: str, kind: str, attributes: dict[str, str]) -> CachedServiceGroup:
    return CachedServiceGroup(tenant_id, kind, MappingProxyType(dict(attributes)))


_SERVICE_GROUPS = "SELECT apikey, tenant_id, kind, attributes FROM iota_service_groups"


_NO_METRICS: dict[str, CachedMetric] = {}


class RegistryUnavailableError(Exception):
    """The registry could not be read (database down); the caller parks the message."""


class RegistryCache:
    def __init__(
        self, conn: Connection, *, reconnect: Callable[[], Connection] | None = None
    ) -> None:
        """``conn`` is ingest's own autocommit connection for look-ups, not the writer's;
        ``reconnect`` makes a new one after the database restarts."""
        self._conn = conn
        self._reconnect = reconnect
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._devices: dict[str, CachedDevice] = {}
        self._by_kind: dict[str, dict[str, CachedMetric]] = {}
        self._unknown: dict[str, float] = {}
        self._groups: dict[str, CachedServiceGroup] = {}
        self._unknown_groups: dict[str, float] = {}
        self._loaded_at = 0.0
        self.reload()

    def _cursor(self) -> Cursor[tuple[Any, ...]]:
        """A cursor on a live connection: one reconnect after a failure, then give up."""
        if self._conn.closed and self._reconnect is not None:
            if time.monotonic() < self._down_until:
                raise RegistryUnavailableError("database unavailable (retrying shortly)")
            try:
                self._conn = self._reconnect()
            except psycopg.OperationalError as exc:
                # Back off: the network thread must not spend each message on a connect.
                self._down_until = time.monotonic() + _RECONNECT_BACKOFF_S
                raise RegistryUnavailableError(str(exc)) from exc
        return self._conn.cursor(row_factory=tuple_row)

    def _with_retry(self, work: Callable[[], _T]) -> _T:
        """Run ``work`` on the connection; after a failure once more on a fresh one (the
        first failure is usually just the stale connection of a database that restarted)."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    return work()
                except psycopg.OperationalError as exc:
                    self._conn.close()
                    if attempt == 2 or self._reconnect is None:
                        raise RegistryUnavailableError(str(exc)) from exc
        raise AssertionError("unreachable")

    def _fetch(self, query: str, params: tuple[object, ...]) -> tuple[Any, ...] | None:
        def work() -> tuple[Any, ...] | None:
            with self._cursor() as cur:
                return cur.execute(query, params).fetchone()

        return self._with_retry(work)

    def reload(self) -> None:
        self._with_retry(self._reload)

    def _reload(self) -> None:
        with self._cursor() as cur:
            devices = {
                r[0]: CachedDevice(r[1], r[2], r[3])
                for r in cur.execute(
                    "SELECT id, tenant_id, kind, key FROM devices WHERE retired_at IS NULL"
                )
            }
            by_kind: dict[str, dict[str, CachedMetric]] = {}
            for r in cur.execute("SELECT kind, name, id, min_value, max_value, unit FROM metrics"):
                by_kind.setdefault(r[0], {})[r[1]] = CachedMetric(r[2], r[3], r[4], r[5])
            groups = {r[0]: _service_group(r[1], r[2], r[3]) for r in cur.execute(_SERVICE_GROUPS)}
            self._devices, self._by_kind, self._groups = devices, by_kind, groups
            self._unknown.clear()
            self._unknown_groups.clear()
            self._loaded_at = time.monotonic()

    def maybe_refresh(self) -> None:
        """Periodic reload; while the database is away the cached registry keeps serving."""
        if time.monotonic() - self._loaded_at > REFRESH_EVERY_S:
            try:
                self.reload()
            except RegistryUnavailableError as exc:
                log.warning("registry reload failed, keeping the cached copy: %s", exc)
                self._loaded_at = time.monotonic() - REFRESH_EVERY_S + 5  # retry in 5 s

    def device(self, device_id: str) -> CachedDevice | None:
        found = self._devices.get(device_id)
        if found is not None:
            return found
        now = time.monotonic()
        if now - self._unknown.get(device_id, -NEGATIVE_TTL_S) < NEGATIVE_TTL_S:
            return None
        row = self._fetch(
            "SELECT tenant_id, kind, key FROM devices WHERE id = %s AND retired_at IS NULL",
            (device_id,),
        )
        if row is None:
            if len(self._unknown) >= _NEGATIVE_MAX:
                self._unknown.clear()
            self._unknown[device_id] = now
            return None
        found = self._devices[device_id] = CachedDevice(row[0], row[1], row[2])
        return found

    def metric(self, kind: str, name: str) -> CachedMetric | None:
        return self._by_kind.get(kind, _NO_METRICS).get(name)

    def metrics_of(self, kind: str) -> dict[str, CachedMetric]:
        """A kind's metrics by name: one look-up per message on the hot path, not per metric."""
        return self._by_kind.get(kind, _NO_METRICS)

    def service_group(self, apikey: str) -> CachedServiceGroup | None:
        """The IoT Agent service group of ``apikey``; same negative caching as :meth:`device`."""
        found = self._groups.get(apikey)
        if found is not None:
            return found
        now = time.monotonic()
        if now - self._unknown_groups.get(apikey, -NEGATIVE_TTL_S) < NEGATIVE_TTL_S:
            return None
        row = self._fetch(_SERVICE_GROUPS + " WHERE apikey = %s", (apikey,))
        if row is None:
            if len(self._unknown_groups) >= _NEGATIVE_MAX:
                self._unknown_groups.clear()
            self._unknown_groups[apikey] = now
            return None
        found = self._groups[apikey] = _service_group(row[1], row[2], row[3])
        return found
