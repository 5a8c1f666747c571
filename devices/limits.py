"""Limits of the device contract that device makers must design for.

These are the defaults the documentation promises; an operator may widen them in the ingest
settings (``IOC_INGEST_MAX_*``), so ingest passes its configured values to
:func:`check_timestamp_window` rather than relying on the defaults.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from devices.errors import PayloadError

__all__ = [
    "MAX_FUTURE_SKEW",
    "MAX_PAST_AGE",
    "MAX_PAYLOAD_BYTES",
    "check_timestamp_window",
]

# 16 KiB holds a telemetry message with a few hundred metrics; anything larger is a firmware
# bug or abuse, and refusing it before JSON parsing keeps one device from stalling ingest.
MAX_PAYLOAD_BYTES = 16 * 1024
# Device clocks drift, and NTP may not have synced right after boot; five minutes tolerates that
# while still catching a clock set to the wrong day or timezone.
MAX_FUTURE_SKEW = timedelta(minutes=5)
# Store-and-forward devices replay what they buffered during an outage; a week covers a long
# weekend without connectivity, and older data goes through a bulk import, not MQTT.
MAX_PAST_AGE = timedelta(days=7)


def check_timestamp_window(
    ts: datetime,
    *,
    now: datetime,
    max_future: timedelta = MAX_FUTURE_SKEW,
    max_past: timedelta = MAX_PAST_AGE,
) -> None:
    """Raise :class:`PayloadError` (``ts_in_future`` / ``ts_too_old``) outside the window.

    ``now`` is an argument so a batch is judged against one clock reading and tests need no
    patching.
    """
    if ts > now + max_future:
        raise PayloadError(
            "ts_in_future", f"timestamp {ts.isoformat()} is more than {max_future} ahead of {now}"
        )
    if ts < now - max_past:
        raise PayloadError(
            "ts_too_old", f"timestamp {ts.isoformat()} is more than {max_past} before {now}"
        )
