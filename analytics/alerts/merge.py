"""Several ingest workers' readings streams, judged in event-time order.

Ingest workers split the devices' messages through a shared subscription, which the broker
deals out message by message: a device's consecutive readings go to different workers, and
each worker's stream reaches the engine when that worker commits. Judged as they arrive, a
device's readings interleave out of order (a breach after the reading that cleared it), and
hysteresis, minimum durations and rates of change all assume order.

So the engine merges the streams the way a stream processor merges partitions: each source
(an ingest worker's topic) has a watermark, the newest reading time it has sent, and a
reading is judged once every active source has passed its time; until then it is held,
unacknowledged. A source that has sent nothing for ``idle_s`` stops holding the others back
(a worker with no traffic, or one that died: its unacknowledged messages go to another worker
and arrive later). With one source nothing is held at all. The cost is the gap between the
workers' commits, about one flush interval (``ingest_flush_interval_s``).

Readings of a device whose clock is behind the others' are older than every watermark, so they
pass at once and may still meet out of order; the detectors treat a reading older than the one
they last judged as late (``thresholds``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from devices.readings_stream import RECORD

__all__ = ["StreamMerge"]

T = TypeVar("T")


@dataclass(slots=True)
class _Source:
    watermark: int  # newest reading time sent, microseconds since the Unix epoch
    seen_at: float  # monotonic clock of its latest message


class StreamMerge(Generic[T]):
    """Held readings and the messages (``T``: whatever acknowledges one) they came in."""

    def __init__(self, idle_s: float = 1.0) -> None:
        self.idle_s = idle_s
        self._sources: dict[str, _Source] = {}
        self._rows = np.empty(0, dtype=RECORD)
        self._owner = np.empty(0, dtype=np.int64)  # which held message each row came in
        self._messages: dict[int, T] = {}
        self._next = 0

    def __len__(self) -> int:
        """Readings held."""
        return len(self._rows)

    @property
    def held_messages(self) -> int:
        return len(self._messages)

    def add(self, source: str, rows: np.ndarray, message: T, now: float) -> None:
        """One stream message's rows (``RECORD``), in the order the source sent them."""
        seq, self._next = self._next, self._next + 1
        self._messages[seq] = message
        known = self._sources.get(source)
        newest = int(rows["t"].max()) if len(rows) else None
        if known is None:
            self._sources[source] = _Source(newest if newest is not None else -(2**62), now)
        else:
            known.seen_at = now
            if newest is not None and newest > known.watermark:
                known.watermark = newest
        if len(rows):
            self._rows = np.concatenate((self._rows, rows))
            self._owner = np.concatenate((self._owner, np.full(len(rows), seq)))

    def horizon(self, now: float) -> int | None:
        """Readings up to this time can be judged (``None``: all of them)."""
        active = [s.watermark for s in self._sources.values() if now - s.seen_at <= self.idle_s]
        return min(active) if len(active) > 1 else None

    def release(self, now: float) -> tuple[np.ndarray, list[T]]:
        """The readings every active source has passed, oldest first, and the messages none
        of whose readings are held any longer (to acknowledge once those are judged)."""
        if not self._messages:
            return self._rows, []  # nothing held (the engine polls this every few ms)
        for name in [n for n, s in self._sources.items() if now - s.seen_at > 3600]:
            del self._sources[name]  # a worker long gone: forget it
        horizon = self.horizon(now)
        rows = self._rows
        if horizon is None:
            out, self._rows = rows, rows[:0]
            self._owner = self._owner[:0]
            done = list(self._messages)
        else:
            ready = rows["t"] <= horizon
            out = rows[ready]
            self._rows, self._owner = rows[~ready], self._owner[~ready]
            still = set(np.unique(self._owner).tolist())
            done = [seq for seq in self._messages if seq not in still]
        out = out[np.argsort(out["t"], kind="stable")]
        return out, [self._messages.pop(seq) for seq in done]
