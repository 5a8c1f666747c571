"""``ioc ingest status``: the worker's own Prometheus figures, read back and summarised.

Reads the running worker's ``/metrics`` rather than the database, so it shows what the worker
sees right now (connection state, pending messages) and costs the database nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ioc_core.errors import IocError
from ioc_core.settings import Settings


@dataclass
class IngestStatus:
    url: str
    broker_connected: bool
    database_up: bool
    messages_received: int
    readings_stored: int
    readings_duplicate: int
    readings_conflicting: int
    dead_letters: int
    dead_letters_by_reason: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    mean_batch_messages: float | None = None
    mean_flush_ms: float | None = None
    commit_lag_le_1s_share: float | None = None
    pending_messages: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def read_status(settings: Settings) -> IngestStatus:
    host = settings.ingest_metrics_host
    url = f"http://{host}:{settings.ingest_metrics_port}/metrics"
    try:
        text = httpx.get(url, timeout=5).text
    except httpx.HTTPError as exc:
        raise IocError(
            f"no ingest worker answers at {url} ({exc}); is `ioc ingest run` running with "
            "IOC_INGEST_METRICS_PORT set to this port?"
        ) from exc
    values: dict[str, float] = {}
    reasons: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ioc_ingest_dead_letters_total":
                reasons[sample.labels["reason"]] = int(sample.value)
            elif sample.name == "ioc_ingest_commit_lag_seconds_bucket":
                if sample.labels["le"] == "1.0":
                    values["lag_le_1"] = sample.value
            else:
                values[sample.name] = sample.value

    def ratio(a: str, b: str, scale: float = 1.0) -> float | None:
        return round(values[a] / values[b] * scale, 2) if values.get(b) else None

    return IngestStatus(
        url=url,
        broker_connected=values.get("ioc_ingest_broker_connected") == 1,
        database_up=values.get("ioc_ingest_database_up", 1) == 1,
        messages_received=int(values.get("ioc_ingest_messages_received_total", 0)),
        readings_stored=int(values.get("ioc_ingest_readings_stored_total", 0)),
        readings_duplicate=int(values.get("ioc_ingest_readings_duplicate_total", 0)),
        readings_conflicting=int(values.get("ioc_ingest_readings_conflicting_total", 0)),
        dead_letters=sum(reasons.values()),
        dead_letters_by_reason=reasons,
        batches=int(values.get("ioc_ingest_batch_messages_count", 0)),
        mean_batch_messages=ratio(
            "ioc_ingest_batch_messages_sum", "ioc_ingest_batch_messages_count"
        ),
        mean_flush_ms=ratio("ioc_ingest_flush_seconds_sum", "ioc_ingest_flush_seconds_count", 1000),
        commit_lag_le_1s_share=ratio("lag_le_1", "ioc_ingest_commit_lag_seconds_count"),
        pending_messages=int(values.get("ioc_ingest_pending_messages", 0)),
    )
