"""Sun times for Hai Phong: when street lights should be on, and the light O3 grows with.

astral computes sunrise and sunset for the city's coordinates (the civic centre, 20.86 N,
106.68 E); the whole city spans under 1.6 degrees of longitude, about 6 minutes of sun time,
so one place serves every light. Results are cached per local date.
"""

from __future__ import annotations

import functools
import math
from datetime import date, datetime, timedelta, timezone

from astral import LocationInfo
from astral.sun import elevation, sun

ICT = timezone(timedelta(hours=7))  # Indochina Time, the city's clock
HAI_PHONG = LocationInfo("Hai Phong", "Vietnam", "Asia/Ho_Chi_Minh", 20.8449, 106.6881)
# Lights switch on a little after sunset and off a little before sunrise, when the photocell
# or the cabinet's astronomical clock says the sky is dark enough (civil twilight is ~22 min).
SWITCH_OFFSET = timedelta(minutes=10)


@functools.lru_cache(maxsize=4096)
def sun_times(day: date) -> tuple[datetime, datetime]:
    """(sunrise, sunset) in UTC of the local date ``day``."""
    times = sun(HAI_PHONG.observer, date=day, tzinfo=ICT)
    return times["sunrise"], times["sunset"]


def lights_on_window(day: date) -> tuple[datetime, datetime]:
    """The lights' night starting on local date ``day``: (switch on, switch off next morning)."""
    on = sun_times(day)[1] + SWITCH_OFFSET
    off = sun_times(day + timedelta(days=1))[0] - SWITCH_OFFSET
    return on, off


def is_dark(at: datetime) -> bool:
    """True when a street light on the astronomical schedule should be on."""
    local = at.astimezone(ICT).date()
    for day in (local - timedelta(days=1), local):
        on, off = lights_on_window(day)
        if on <= at < off:
            return True
    return False


def next_dusk(after: datetime) -> datetime:
    """The first switch-on time at or after ``after``."""
    day = after.astimezone(ICT).date() - timedelta(days=1)
    while True:
        on, _ = lights_on_window(day)
        if on >= after:
            return on
        day += timedelta(days=1)


def next_dawn(after: datetime) -> datetime:
    """The first switch-off time at or after ``after``."""
    day = after.astimezone(ICT).date() - timedelta(days=1)
    while True:
        _, off = lights_on_window(day)
        if off >= after:
            return off
        day += timedelta(days=1)


def daylight(at: datetime) -> float:
    """0 at night, 1 with the sun overhead: sin of the solar elevation (O3, temperature)."""
    minute = at.replace(second=0, microsecond=0)
    return _daylight_minute(minute)


@functools.lru_cache(maxsize=65536)
def _daylight_minute(at: datetime) -> float:
    return max(0.0, math.sin(math.radians(elevation(HAI_PHONG.observer, at))))
