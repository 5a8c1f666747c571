"""Connectivity alerts from the stream: a device's MQTT last will opens one at once, in event
time; its next ``online`` or reading resolves it.

Liveness (devices/liveness.py) opens the same kind of alert when a device falls silent for
three of its intervals, on the wall clock; both write through the one-live-alert index, so a
device gets one alert whichever notices first. An ``offline`` is a last will when it is stamped
no later than the device's latest ``online`` (a will carries its connection's time) or carries
the will's documented reason ``connection lost``; any other ``offline`` is a goodbye (planned
maintenance), not an alert. The alert's event time is the stream's watermark when the will
arrives, since the will's own ``ts`` is its connection's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from analytics.alerts.model import Finding, Reading

__all__ = ["KIND", "ConnectivityDetector"]

KIND = "connectivity"
_WILL_SLACK = timedelta(seconds=1)  # as liveness: devices writing whole seconds in both
# docs/mqtt.md's last will carries this reason. It also marks a will whose connection never
# announced itself online (a device that reconnected and dropped before saying so).
WILL_REASON = "connection lost"


class ConnectivityDetector:
    def __init__(self) -> None:
        self._online_ts: dict[str, datetime] = {}
        self._down: dict[str, datetime] = {}  # device -> event time it went down

    def is_down(self, device_id: str) -> bool:
        return device_id in self._down

    def restore(self, device_id: str, since: datetime) -> None:
        self._down[device_id] = since

    def status(
        self, device_id: str, state: str, ts: datetime, reason: str | None, watermark: datetime
    ) -> list[Finding]:
        if state == "online":
            self._online_ts[device_id] = ts
            return self._back(device_id, ts, "it announced itself online")
        connected = self._online_ts.get(device_id)
        is_will = (connected is not None and ts <= connected + _WILL_SLACK) or (
            (reason or "").strip().lower() == WILL_REASON
        )
        if not is_will or device_id in self._down:
            return []
        when = max(watermark, ts)
        self._down[device_id] = when
        why = f"its MQTT last will arrived (connection lost; connected at {ts.isoformat()})"
        if reason:
            why += f": {reason}"
        return [Finding(kind=KIND, device_id=device_id, key="", active=True,
                        severity="warning", time=when, title=f"{device_id} is offline",
                        reason=why)]  # fmt: skip

    def observe(self, reading: Reading) -> list[Finding]:
        down = self._down.get(reading.device_id)
        if down is None or reading.time <= down:
            return []  # in flight before the disconnection
        return self._back(reading.device_id, reading.time, "it sent readings again")

    def tick(self, watermark: datetime) -> list[Finding]:
        return []

    def _back(self, device_id: str, when: datetime, why: str) -> list[Finding]:
        if device_id not in self._down:
            return []
        del self._down[device_id]
        return [Finding(kind=KIND, device_id=device_id, key="", active=False,
                        severity="warning", time=when, title=f"{device_id} is back online",
                        reason=why)]  # fmt: skip
