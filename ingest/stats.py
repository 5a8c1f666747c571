"""Counters of the ingest loop, logged periodically so backpressure and loss are visible."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from ingest.writer import FlushResult

log = logging.getLogger("ingest.stats")
LOG_EVERY_S = 10.0


@dataclass
class IngestStats:
    messages: int = 0
    readings: int = 0
    inserted: int = 0
    dead_letters: int = 0
    batches: int = 0
    write_seconds: float = 0.0
    _last_log: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, *, batch: int, result: FlushResult, seconds: float) -> None:
        with self._lock:
            self.messages += batch
            self.readings += result.readings
            self.inserted += result.inserted
            self.dead_letters += result.dead_letters
            self.batches += 1
            self.write_seconds += seconds

    def maybe_log(self) -> None:
        if time.monotonic() - self._last_log >= LOG_EVERY_S:
            self.log()

    def log(self) -> None:
        self._last_log = time.monotonic()
        log.info(
            "messages=%d readings=%d inserted=%d duplicates=%d dead_letters=%d batches=%d "
            "write_s=%.2f",
            self.messages, self.readings, self.inserted, self.readings - self.inserted,
            self.dead_letters, self.batches, self.write_seconds,
        )  # fmt: skip
