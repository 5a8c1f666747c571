"""Which device the panel shows, and the numbers in the header: decisions kept out of callbacks.

Callbacks only move data between the API and the page; what the wall decides to show lives
here as plain functions so it can be tested without a browser or a server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone

from ioc_dashboard.api_client import DeviceStatus, DeviceView

# Vietnam keeps UTC+7 all year (no daylight saving), so a fixed offset is exact and spares the
# wall a dependency on the host's tz database.
VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")
# How much history the chart shows, counted back from the device's last reading so an offline
# station still shows the day before it went silent.
CHART_WINDOW = timedelta(hours=24)
STATUSES: tuple[DeviceStatus, ...] = ("online", "offline", "never_seen")


def pick_device(devices: Sequence[DeviceView], selected_id: str | None) -> DeviceView | None:
    """The clicked device if it still exists, else the first online one, else the first."""
    if selected_id is not None:
        for device in devices:
            if device.id == selected_id:
                return device
    for device in devices:
        if device.status == "online":
            return device
    return devices[0] if devices else None


def status_counts(devices: Sequence[DeviceView]) -> dict[DeviceStatus, int]:
    counts = Counter(device.status for device in devices)
    return {status: counts.get(status, 0) for status in STATUSES}


def kpi_online_text(devices: Sequence[DeviceView]) -> str:
    return f"{status_counts(devices)['online']} / {len(devices)}"


def telemetry_since(device: DeviceView, *, now: datetime | None = None) -> datetime:
    end = device.last_seen or now or datetime.now(UTC)
    return end - CHART_WINDOW


def local_time_text(moment: datetime | None, labels: Mapping[str, str]) -> str:
    if moment is None:
        return labels["never"]
    return moment.astimezone(VIETNAM_TZ).strftime("%d/%m/%Y %H:%M")


def device_hover_text(device: DeviceView, labels: Mapping[str, str]) -> str:
    seen = local_time_text(device.last_seen, labels)
    status = status_label(device.status, labels)
    commune = device.commune_name or "—"
    return f"<b>{device.id}</b><br>{commune}<br>{status} · {labels['last_seen']}: {seen}"


def status_label(status: DeviceStatus, labels: Mapping[str, str]) -> str:
    return labels[f"status_{status}"]
