"""Past measurements into telemetry: validated per row, written all or nothing.

Every row is checked against the registry (the device exists, the metric belongs to its kind,
the value is inside the profile's range) before anything is written; any bad row fails the
whole file with its line number. The rows then go in through one transaction (COPY into a
temporary table, one INSERT), so a file is either wholly in or not at all. A reading that
already exists for the same device, metric and time keeps its first value, as ingest does, and
is counted as already present. Touched hours are recorded so the rollups (and with them VN_AQI
and the forecasts) fold the history in on their next run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg import Connection

from analytics.history.errors import MAX_PROBLEMS, HistoryInputError
from analytics.history.long_form import LongRow
from ioc_core.db import fetch_all, fetch_one

__all__ = ["ImportReport", "import_rows"]


@dataclass(frozen=True, slots=True)
class ImportReport:
    rows: int
    inserted: int
    already_present: int
    devices: int
    first: str | None
    last: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows, "inserted": self.inserted,
            "already_present": self.already_present, "devices": self.devices,
            "first": self.first, "last": self.last,
        }  # fmt: skip


def import_rows(
    conn: Connection, rows: Iterable[LongRow], *, source: str, max_future: timedelta
) -> ImportReport:
    """Validate every row, then write them in one transaction; raises
    :class:`HistoryInputError` (nothing written) when any row is bad."""
    rows = list(rows)
    devices = _devices(conn, {r.device for r in rows})
    limits = _metrics(conn, {kind for _, kind in devices.values()})
    problems: list[str] = []
    seen: dict[tuple[str, str, datetime], int] = {}
    out: list[tuple[datetime, int, int, float]] = []
    latest = datetime.now(UTC) + max_future
    for r in rows:
        problem = _check(r, devices, limits, seen, latest)
        if problem:
            problems.append(f"line {r.line}: {problem}")
            if len(problems) > MAX_PROBLEMS * 20:
                break
            continue
        key, kind = devices[r.device]
        metric_id, _, _ = limits[(kind, r.metric)]
        out.append((r.time, key, metric_id, r.value))
    if problems:
        raise HistoryInputError(source, problems)
    if not out:
        raise HistoryInputError(source, ["the file has no readings"])
    with conn.transaction():
        inserted = _write(conn, out)
    times = [t for t, *_ in out]
    return ImportReport(
        rows=len(out), inserted=inserted, already_present=len(out) - inserted,
        devices=len({k for _, k, _, _ in out}),
        first=min(times).astimezone(UTC).isoformat(), last=max(times).astimezone(UTC).isoformat(),
    )  # fmt: skip


def _check(
    r: LongRow,
    devices: dict[str, tuple[int, str]],
    limits: dict[tuple[str, str], tuple[int, float, float]],
    seen: dict[tuple[str, str, datetime], int],
    latest: datetime,
) -> str | None:
    if r.device not in devices:
        return f"unknown device {r.device!r} (register it first)"
    _, kind = devices[r.device]
    if (kind, r.metric) not in limits:
        return f"metric {r.metric!r} is not one of a {kind}'s"
    _, low, high = limits[(kind, r.metric)]
    if not low <= r.value <= high:
        return f"{r.metric} {r.value} is outside the profile's range [{low:g}, {high:g}]"
    if r.time > latest:
        return f"time {r.time.isoformat()} is in the future"
    first = seen.setdefault((r.device, r.metric, r.time), r.line)
    if first != r.line:
        return f"duplicate of line {first} ({r.device} {r.metric} at {r.time.isoformat()})"
    return None


def _devices(conn: Connection, ids: set[str]) -> dict[str, tuple[int, str]]:
    rows = fetch_all(conn, "SELECT id, key, kind FROM devices WHERE id = ANY(%s)", (sorted(ids),))
    return {r[0]: (r[1], r[2]) for r in rows}


def _metrics(conn: Connection, kinds: set[str]) -> dict[tuple[str, str], tuple[int, float, float]]:
    rows = fetch_all(
        conn,
        "SELECT kind, name, id, min_value, max_value FROM metrics WHERE kind = ANY(%s)",
        (sorted(kinds),),
    )
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


def _write(conn: Connection, rows: list[tuple[datetime, int, int, float]]) -> int:
    conn.execute(
        """CREATE TEMPORARY TABLE history_import (
               time timestamptz, device_key integer, metric_id smallint, value double precision
           ) ON COMMIT DROP"""
    )
    with (
        conn.cursor() as cur,
        cur.copy("COPY history_import (time, device_key, metric_id, value) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    inserted = fetch_one(
        conn,
        """WITH ins AS (
               INSERT INTO telemetry (time, device_key, metric_id, value)
               SELECT time, device_key, metric_id, value FROM history_import
               ON CONFLICT DO NOTHING RETURNING time)
           SELECT count(*) FROM ins""",
    )
    conn.execute(
        """INSERT INTO telemetry_touched_hours AS h (hour, readings)
           SELECT time_bucket('1 hour', time), count(*) FROM history_import GROUP BY 1
           ON CONFLICT (hour) DO UPDATE
           SET readings = h.readings + EXCLUDED.readings, updated_at = now()"""
    )
    return int(inserted[0]) if inserted else 0
