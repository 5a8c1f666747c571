"""What the ingest loop counts, as Prometheus metrics and as a summary for logs and benchmarks.

Publish -> commit lag is measured against the reading's own timestamp, which a live device
sets when it samples; for the benchmark's publishers that is the moment of publishing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ingest.writer import FlushResult

log = logging.getLogger("ingest.stats")
LOG_EVERY_S = 10.0
_LAG_SAMPLES = 200_000  # enough for stable p99 over a benchmark phase


@dataclass
class IngestMetrics:
    """Prometheus collectors in a registry of their own, so tests can run several workers."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.received = Counter("ioc_ingest_messages_received", "MQTT messages taken", registry=r)
        self.stored = Counter("ioc_ingest_readings_stored", "Readings inserted", registry=r)
        self.duplicates = Counter(
            "ioc_ingest_readings_duplicate", "Readings already stored (redelivery)", registry=r
        )
        self.conflicts = Counter(
            "ioc_ingest_readings_conflicting", "Same identity, other value: kept aside", registry=r
        )
        self.dead = Counter(
            "ioc_ingest_dead_letters", "Messages dead-lettered", ["reason"], registry=r
        )
        self.batch = Histogram(
            "ioc_ingest_batch_messages", "Messages per committed batch", registry=r,
            buckets=(1, 10, 100, 500, 1_000, 2_500, 5_000, 10_000, 20_000),
        )  # fmt: skip
        self.flush = Histogram(
            "ioc_ingest_flush_seconds", "Time to write and commit one batch", registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )  # fmt: skip
        self.lag = Histogram(
            "ioc_ingest_commit_lag_seconds", "Reading timestamp -> commit", registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )  # fmt: skip
        self.pending = Gauge("ioc_ingest_pending_messages", "Decoded, not yet written", registry=r)
        self.stream_late = Counter(
            "ioc_ingest_stream_late_batches",
            "Committed batches whose readings-stream messages the broker had not taken in time",
            registry=r,
        )
        self.connected = Gauge("ioc_ingest_broker_connected", "1 while connected", registry=r)
        self.db_up = Gauge("ioc_ingest_database_up", "0 while writes are failing", registry=r)


@dataclass
class IngestStats:
    messages: int = 0
    readings: int = 0
    inserted: int = 0
    conflicts: int = 0
    dead_letters: int = 0
    batches: int = 0
    staged_batches: int = 0
    write_seconds: float = 0.0
    metrics: IngestMetrics = field(default_factory=IngestMetrics)
    lags: deque[float] = field(default_factory=lambda: deque(maxlen=_LAG_SAMPLES))
    _last_log: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self, *, batch: int, result: FlushResult, seconds: float, lags: list[float],
        dead_reasons: list[str],
    ) -> None:  # fmt: skip
        with self._lock:
            self.messages += batch
            self.readings += result.readings
            self.inserted += result.inserted
            self.conflicts += result.conflicts
            self.dead_letters += result.dead_letters
            self.batches += 1
            self.staged_batches += result.staged
            self.write_seconds += seconds
            self.lags.extend(lags)
        m = self.metrics
        m.received.inc(batch)
        m.stored.inc(result.inserted)
        m.duplicates.inc(result.readings - result.inserted - result.conflicts)
        m.conflicts.inc(result.conflicts)
        for reason in dead_reasons:
            m.dead.labels(reason).inc()
        m.batch.observe(batch)
        m.flush.observe(seconds)
        for lag in lags[:: max(1, len(lags) // 200)]:  # a sample per batch keeps this cheap
            m.lag.observe(lag)

    def lag_quantiles_ms(self) -> tuple[float | None, float | None]:
        with self._lock:
            if not self.lags:
                return None, None
            values = np.fromiter(self.lags, dtype=float)
        p50, p99 = np.percentile(values, [50, 99])
        return round(float(p50) * 1000, 1), round(float(p99) * 1000, 1)

    def summary(self, *, max_lag_samples: int = 50_000) -> dict[str, object]:
        """The counters and a sample of lags, as ``ioc ingest run --stats-file`` writes them."""
        with self._lock:
            lags = list(self.lags)
        step = max(1, len(lags) // max_lag_samples)
        p50, p99 = self.lag_quantiles_ms()
        return {
            "messages": self.messages, "readings": self.readings, "inserted": self.inserted,
            "conflicts": self.conflicts, "dead_letters": self.dead_letters,
            "batches": self.batches, "staged_batches": self.staged_batches,
            "write_seconds": round(self.write_seconds, 3), "p50_ms": p50, "p99_ms": p99,
            "lag_sample_s": lags[::step],
        }  # fmt: skip

    def reset_lags(self) -> None:
        with self._lock:
            self.lags.clear()

    def maybe_log(self) -> None:
        if time.monotonic() - self._last_log >= LOG_EVERY_S:
            self.log()

    def log(self) -> None:
        self._last_log = time.monotonic()
        p50, p99 = self.lag_quantiles_ms()
        log.info(
            "messages=%d readings=%d inserted=%d duplicates=%d conflicts=%d dead_letters=%d "
            "batches=%d staged=%d write_s=%.2f lag_p50_ms=%s lag_p99_ms=%s",
            self.messages, self.readings, self.inserted,
            self.readings - self.inserted - self.conflicts, self.conflicts, self.dead_letters,
            self.batches, self.staged_batches, self.write_seconds, p50, p99,
        )  # fmt: skip
