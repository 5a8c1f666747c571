"""Replay a recorded long-form CSV (``time,device,metric,value``) at N x speed.

Timestamps are shifted so that the last reading is stamped with the wall time at which the
replay ends, and a reading is never stamped later than the moment it is published (ingest
refuses readings from the future). Devices must already be in the registry: the replay
publishes as them, it does not invent them. Its one link connects as the engine's do
(``wait_connected``): within ``connect_timeout`` or a ``BrokerUnreachableError``, and a stop
request (SIGTERM, Ctrl-C) ends the wait at once.
"""

from __future__ import annotations

import csv
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from devices.topics import Channel, Topic
from ioc_core.db import connect_db, fetch_all
from ioc_core.errors import IocError
from ioc_core.settings import Settings
from simulators.engine import RunStats
from simulators.links import BrokerUnreachableError, Link, default_connect_timeout, wait_connected


class ReplayError(IocError):
    pass


def read_messages(path: Path) -> list[tuple[datetime, str, dict[str, float]]]:
    """(time, device, metrics) per (time, device), in time order."""
    grouped: dict[tuple[datetime, str], dict[str, float]] = defaultdict(dict)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"time", "device", "metric", "value"} - set(reader.fieldnames or ())
        if missing:
            raise ReplayError(f"{path}: missing columns {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            try:
                at = datetime.fromisoformat(row["time"])
                value = float(row["value"])
            except ValueError as exc:
                raise ReplayError(f"{path}: line {line}: {exc}") from exc
            if at.tzinfo is None:
                raise ReplayError(f"{path}: line {line}: time {row['time']!r} has no UTC offset")
            grouped[(at, row["device"])][row["metric"]] = value
    return sorted(((at, dev, m) for (at, dev), m in grouped.items()), key=lambda x: x[0])


def replay(
    settings: Settings,
    path: Path,
    *,
    speed: float,
    stop: threading.Event | None = None,
    progress: bool = False,
    connect_timeout: float | None = None,
) -> RunStats:
    """Publish the recording; stats with ``published`` 0 if stopped before the broker answered.

    ``connect_timeout`` defaults as for ``ioc simulate`` (``default_connect_timeout``).
    """
    messages = read_messages(path)
    if not messages:
        raise ReplayError(f"{path}: no readings")
    devices = sorted({m[1] for m in messages})
    with connect_db(settings) as conn:
        rows = fetch_all(conn, "SELECT id, tenant_id FROM devices WHERE id = ANY(%s)", (devices,))
    tenants = {r[0]: r[1] for r in rows}
    unknown = [d for d in devices if d not in tenants]
    if unknown:
        raise ReplayError(f"{path}: devices not registered: {', '.join(unknown[:10])}")
    first, last = messages[0][0], messages[-1][0]
    span = (last - first).total_seconds()
    wall_span = span / speed
    stop = stop or threading.Event()
    link = Link(
        settings,
        client_id=f"sim-replay-{int(time.time())}",
        tenant=tenants[devices[0]],
        device_id=devices[0],
        login=None,
        on_command=None,
        window=5000,
        will_ts=datetime.now(UTC),
    )
    stats = RunStats(
        devices=len(devices), links=1, target_msgs_per_s=len(messages) / max(wall_span, 1e-9)
    )
    if not _connect(settings, link, connect_timeout, stop):
        return stats
    t0 = time.monotonic()
    shift = datetime.now(UTC) + timedelta(seconds=wall_span) - last
    seqs: dict[str, int] = defaultdict(int)
    next_progress = t0 + 2
    for at, device, metrics in messages:
        due = (at - first).total_seconds() / speed
        while (ahead := due - (time.monotonic() - t0)) > 0 and not stop.is_set():
            stop.wait(min(ahead, 0.05))
        if stop.is_set():
            break
        seqs[device] += 1
        topic = str(Topic(tenants[device], device, Channel.TELEMETRY))
        ts = (at + shift).isoformat()
        payload = orjson.dumps({"v": 1, "ts": ts, "seq": seqs[device], "metrics": metrics})
        if link.publish(topic, payload):
            stats.published += 1
        if progress and time.monotonic() >= next_progress:
            print(
                f"\rreplayed {stats.published:,}/{len(messages):,}",
                end="",
                flush=True,
                file=sys.stderr,
            )
            next_progress += 2
    stats.wall_s = time.monotonic() - t0
    stats.achieved_msgs_per_s = stats.published / max(stats.wall_s, 1e-9)
    link.flush(30)
    stats.acknowledged = link.acked
    stats.errors = link.errors
    stats.dropped = link.dropped
    link.close(datetime.now(UTC), say_goodbye=False)  # a hang-up, not logged as a lost broker
    return stats


def _connect(settings: Settings, link: Link, timeout: float | None, stop: threading.Event) -> bool:
    """Start the link and wait for the broker; False (link closed) if stopped first.

    The link is closed before ``BrokerUnreachableError`` propagates too: its paho thread would
    otherwise keep retrying the broker behind the error.
    """
    if timeout is None:
        timeout = default_connect_timeout(1)
    link.start()
    try:
        if wait_connected(settings, [link], timeout, stop):
            return True
    except BrokerUnreachableError:
        link.close(datetime.now(UTC), say_goodbye=False)
        raise
    link.close(datetime.now(UTC), say_goodbye=False)
    return False
