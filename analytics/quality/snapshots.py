"""A device's metrics at one instant, for detectors that judge several metrics together.

The engine hands over one metric at a time. Judging "state is 1 but power is 0" after the
``state`` reading of a message and before its ``power`` reading would mix two instants, so
readings are grouped by (device, time) and a group is judged once it is complete: when the
device's next instant starts, or when the watermark has passed it. Values persist across
instants (a message may carry only the metrics that changed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from analytics.alerts import Reading


@dataclass
class Snapshot:
    device_id: str
    tenant_id: str
    kind: str
    time: datetime
    values: dict[str, float] = field(default_factory=dict)  # latest known, carried forward
    fresh: set[str] = field(default_factory=set)  # metrics read at ``time`` itself

    def get(self, metric: str) -> float | None:
        return self.values.get(metric)


class SnapshotBuffer:
    def __init__(self, kinds: frozenset[str]) -> None:
        self.kinds = kinds
        self._open: dict[str, Snapshot] = {}
        self._values: dict[str, dict[str, float]] = {}
        self._closed: dict[str, datetime] = {}

    def add(self, reading: Reading) -> list[Snapshot]:
        """Record ``reading``; returns the device's previous instant if this one closed it."""
        if reading.kind not in self.kinds:
            return []
        closed = self._closed.get(reading.device_id)
        if closed is not None and reading.time <= closed:
            return []  # late: the instant it belongs to has been judged already
        current = self._open.get(reading.device_id)
        done: list[Snapshot] = []
        if current is None or reading.time > current.time:
            if current is not None:
                done.append(self._close(current))
            values = self._values.setdefault(reading.device_id, {})
            current = Snapshot(reading.device_id, reading.tenant_id, reading.kind, reading.time,
                               values=values)  # fmt: skip
            self._open[reading.device_id] = current
        elif reading.time < current.time:
            return []
        current.values[reading.metric] = reading.value
        current.fresh.add(reading.metric)
        return done

    def flush(self, watermark: datetime) -> list[Snapshot]:
        """Instants the watermark has passed: no more readings are coming for them."""
        done = [s for s in self._open.values() if s.time < watermark]
        for s in done:
            del self._open[s.device_id]
        return [self._close(s) for s in done]

    def _close(self, s: Snapshot) -> Snapshot:
        # The values dict is shared with the device's next instant; hand out a copy.
        self._closed[s.device_id] = s.time
        return Snapshot(s.device_id, s.tenant_id, s.kind, s.time, dict(s.values), set(s.fresh))
