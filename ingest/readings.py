"""What every payload format decodes into: rows for COPY, or a dead letter, or both.

The formats (native v1, SenML, FIWARE IoT Agent JSON) differ only in how they spell readings;
``accept_samples`` applies the same registry and profile checks to all of them, so a reading
is valid or not for the same reasons whichever way the device sent it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from devices.errors import PayloadError
from devices.limits import check_timestamp_window
from devices.payloads import parse_metric_value
from ingest.registry_cache import CachedDevice, CachedMetric, RegistryCache

# Raw payload kept in a dead letter; enough to see what a device sent, bounded against abuse.
DEAD_LETTER_PAYLOAD_BYTES = 4_096

Row = tuple[datetime, int, int, float]  # (time, device_key, metric_id, value): COPY's columns


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    reason: str
    detail: str
    payload: bytes
    received_at: datetime
    tenant_id: str | None = None
    device_id: str | None = None

    @property
    def stored_payload(self) -> tuple[bytes, bool]:
        truncated = len(self.payload) > DEAD_LETTER_PAYLOAD_BYTES
        return self.payload[:DEAD_LETTER_PAYLOAD_BYTES], truncated


@dataclass(slots=True)
class Decoded:
    rows: list[Row] = field(default_factory=list)
    dead: DeadLetter | None = None
    # All rows share one timestamp and device (native v1): bookkeeping can read rows[0].
    single_time: bool = True
    # The registry could not be consulted (database away): decide again at flush time, and
    # until then neither store nor acknowledge the message.
    deferred: bool = False


@dataclass(frozen=True)
class Limits:
    max_payload_bytes: int
    max_future: timedelta
    max_past: timedelta


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading as a format spelled it, before the profile has had its say."""

    name: str
    raw: object
    ts: datetime
    unit: str | None = None  # only formats that carry units (SenML) set it


@dataclass(slots=True)  # not frozen: one is made per message, and frozen __init__ is slow
class Context:
    """Who sent the message, for dead letters and the checks."""

    topic: str
    payload: bytes
    received_at: datetime
    tenant_id: str | None
    device_id: str | None

    def reject(self, reason: str, detail: str) -> Decoded:
        return Decoded(dead=self.dead_letter(reason, detail))

    def dead_letter(self, reason: str, detail: str) -> DeadLetter:
        return DeadLetter(
            self.topic, reason, detail, self.payload, self.received_at,
            self.tenant_id, self.device_id,
        )  # fmt: skip


def registered_device(
    ctx: Context, cache: RegistryCache, *, tenant_id: str | None
) -> CachedDevice | Decoded:
    """The registry entry of ``ctx.device_id``, or the dead letter that says why not.

    ``tenant_id`` is the tenant the transport vouches for (the topic); ``None`` where the
    format identifies the device otherwise (an IoT Agent API key already names its tenant).
    """
    assert ctx.device_id is not None
    device = cache.device(ctx.device_id)
    if device is None:
        return ctx.reject("unknown_device", f"device {ctx.device_id!r} is not registered")
    if tenant_id is not None and device.tenant_id != tenant_id:
        return ctx.reject(
            "tenant_mismatch",
            f"device {ctx.device_id!r} belongs to tenant {device.tenant_id!r}, not {tenant_id!r}",
        )
    return device


def accept_metrics(
    ctx: Context,
    device: CachedDevice,
    ts: datetime,
    metrics: dict[str, object],
    *,
    cache: RegistryCache,
    limits: Limits,
) -> Decoded:
    """The hot path for formats with one timestamp per message and no units (native v1).

    Same checks and reason codes as :func:`accept_samples`, minus the per-sample objects and
    the per-metric timestamp check: profiled at a quarter of the worker's CPU otherwise.
    """
    try:
        check_timestamp_window(
            ts, now=ctx.received_at, max_future=limits.max_future, max_past=limits.max_past
        )
    except PayloadError as exc:
        return ctx.reject(exc.reason, str(exc))
    out = Decoded()
    rows = out.rows
    key = device.key
    specs = cache.metrics_of(device.kind)
    dropped: list[tuple[str, str]] | None = None
    for name, raw in metrics.items():
        spec = specs.get(name)
        if (
            spec is not None
            and type(raw) is float  # the common case; ints, bools and the rest go the slow way
            and spec.min_value <= raw <= spec.max_value
        ):
            rows.append((ts, key, spec.id, raw))
            continue
        problem = _metric_problem(name, raw, spec, device.kind)
        if problem is None:
            rows.append((ts, key, spec.id, float(raw)))  # type: ignore[union-attr, arg-type]
        else:
            dropped = dropped or []
            dropped.append(problem)
    if dropped:
        out.dead = _partial(ctx, dropped, kept=len(rows))
    return out


def _metric_problem(
    name: str, raw: object, spec: CachedMetric | None, kind: str
) -> tuple[str, str] | None:
    if spec is None:
        return ("unknown_metric", f"{name}: not a metric of {kind}")
    try:
        value = parse_metric_value(name, raw)
    except PayloadError as exc:
        return (exc.reason, f"{name}: {exc}")
    if not spec.min_value <= value <= spec.max_value:
        return (
            "out_of_range",
            f"{name}: {value:g} outside [{spec.min_value:g}, {spec.max_value:g}]",
        )
    return None


def _partial(ctx: Context, dropped: list[tuple[str, str]], *, kept: int) -> DeadLetter:
    detail = f"dropped {len(dropped)} of {kept + len(dropped)} metrics (kept {kept}): " + "; ".join(
        d for _, d in dropped
    )
    # The row's reason code is the first dropped metric's; the detail lists them all.
    return ctx.dead_letter(dropped[0][0], detail)


def accept_samples(
    ctx: Context,
    device: CachedDevice,
    samples: Iterable[Sample],
    *,
    cache: RegistryCache,
    limits: Limits,
) -> Decoded:
    """Keep every sample the profile accepts; one dead letter lists the ones it does not."""
    out = Decoded(single_time=False)
    dropped: list[tuple[str, str]] = []
    for s in samples:
        spec = cache.metric(device.kind, s.name)
        if spec is not None and s.unit is not None and s.unit != spec.unit:
            dropped.append(
                ("unit_mismatch", f"{s.name}: unit {s.unit!r}, the profile says {spec.unit!r}")
            )
            continue
        problem = _metric_problem(s.name, s.raw, spec, device.kind)
        if problem is None:
            try:
                check_timestamp_window(
                    s.ts, now=ctx.received_at, max_future=limits.max_future,
                    max_past=limits.max_past,
                )  # fmt: skip
            except PayloadError as exc:
                problem = (exc.reason, f"{s.name}: {exc}")
        if problem is not None:
            dropped.append(problem)
            continue
        assert spec is not None
        out.rows.append((s.ts, device.key, spec.id, float(s.raw)))  # type: ignore[arg-type]
    if dropped:
        out.dead = _partial(ctx, dropped, kept=len(out.rows))
    return out
