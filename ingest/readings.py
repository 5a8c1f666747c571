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
from ingest.registry_cache import CachedDevice, RegistryCache

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


@dataclass(frozen=True, slots=True)
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


def accept_samples(
    ctx: Context,
    device: CachedDevice,
    samples: Iterable[Sample],
    *,
    cache: RegistryCache,
    limits: Limits,
) -> Decoded:
    """Keep every sample the profile accepts; one dead letter lists the ones it does not."""
    out = Decoded()
    dropped: list[tuple[str, str]] = []
    for s in samples:
        spec = cache.metric(device.kind, s.name)
        if spec is None:
            dropped.append(("unknown_metric", f"{s.name}: not a metric of {device.kind}"))
            continue
        if s.unit is not None and s.unit != spec.unit:
            dropped.append(
                ("unit_mismatch", f"{s.name}: unit {s.unit!r}, the profile says {spec.unit!r}")
            )
            continue
        try:
            value = parse_metric_value(s.name, s.raw)
            check_timestamp_window(
                s.ts, now=ctx.received_at, max_future=limits.max_future, max_past=limits.max_past
            )
        except PayloadError as exc:
            dropped.append((exc.reason, f"{s.name}: {exc}"))
            continue
        if not spec.min_value <= value <= spec.max_value:
            dropped.append(
                (
                    "out_of_range",
                    f"{s.name}: {value:g} outside [{spec.min_value:g}, {spec.max_value:g}]",
                )
            )
            continue
        out.rows.append((s.ts, device.key, spec.id, value))
    if dropped:
        kept = len(out.rows)
        detail = (
            f"dropped {len(dropped)} of {kept + len(dropped)} metrics (kept {kept}): "
            + "; ".join(d for _, d in dropped)
        )
        # The row's reason code is the first dropped metric's; the detail lists them all.
        out.dead = ctx.dead_letter(dropped[0][0], detail)
    return out
