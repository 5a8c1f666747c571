"""Small decisions of the wall, kept out of callbacks so they are testable without a server.

Callbacks only move data between the API and the page; what to show lives here and in the
``*_view`` modules as plain functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone

from ioc_dashboard.api_models import DeviceView, ThresholdRule
from ioc_dashboard.i18n import KIND_METRICS

# Vietnam keeps UTC+7 all year (no daylight saving), so a fixed offset is exact and spares the
# wall a dependency on the host's tz database.
VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")
# How much history the chart shows, counted back from the device's last reading so an offline
# station still shows the day before it went silent.
CHART_WINDOW = timedelta(hours=24)


def telemetry_since(device: DeviceView, *, now: datetime | None = None) -> datetime:
    end = device.last_seen or now or datetime.now(UTC)
    return end - CHART_WINDOW


def local_time_text(moment: datetime | None, labels: Mapping[str, str]) -> str:
    if moment is None:
        return labels["never"]
    return moment.astimezone(VIETNAM_TZ).strftime("%d/%m/%Y %H:%M")


def metrics_of(kind: str) -> tuple[str, ...]:
    return KIND_METRICS.get(kind, ())


def applicable_rules(rules: Sequence[ThresholdRule], device: DeviceView) -> list[ThresholdRule]:
    """The rules whose scope takes in this device: the lines its chart draws."""

    def applies(rule: ThresholdRule) -> bool:
        scope = {
            "all": True,
            "kind": rule.scope_value in (None, device.kind),
            "device": rule.scope_value == device.id,
            "commune": rule.scope_value == device.commune_code,
            "tenant": rule.scope_value == device.tenant,
        }
        return rule.kind == device.kind and scope.get(rule.scope_type, False)

    return [rule for rule in rules if applies(rule)]
