"""Daylight at a light's own coordinates (astral), for schedules in event time.

Sunrise and sunset are cached per (coordinates rounded to 0.1°, local date): about 11 km,
under a minute of sun time, and the whole city then needs a few dozen look-ups a day.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta, timezone

from astral import Observer
from astral.sun import sun

ICT = timezone(timedelta(hours=7))  # the city's clock: a "night" is a local date's evening
# The civic centre, for a light whose coordinates the registry does not have.
HAI_PHONG = (20.8449, 106.6881)


@functools.lru_cache(maxsize=8192)
def _sun_times(lat: float, lon: float, day: date) -> tuple[datetime, datetime]:
    times = sun(Observer(latitude=lat, longitude=lon), date=day, tzinfo=ICT)
    return times["sunrise"], times["sunset"]


def sun_times(lat: float, lon: float, day: date) -> tuple[datetime, datetime]:
    """(sunrise, sunset) of local date ``day`` at (lat, lon)."""
    return _sun_times(round(lat, 1), round(lon, 1), day)


def sun_phase(at: datetime, lat: float, lon: float) -> tuple[float, float]:
    """(seconds since the last sunrise-or-sunset, signed): how deep into day (+) or night (-).

    Returns ``(into_day_s, into_night_s)``: seconds past sunrise while the sun is up, else 0;
    seconds past sunset (or until sunrise, whichever is nearer) while it is down, else 0. A
    schedule test then reads "at least 30 minutes into the night" without caring which edge.
    """
    day = at.astimezone(ICT).date()
    rise, set_ = sun_times(lat, lon, day)
    if rise <= at < set_:
        return min((at - rise).total_seconds(), (set_ - at).total_seconds()), 0.0
    if at < rise:
        prev_set = sun_times(lat, lon, day - timedelta(days=1))[1]
        return 0.0, min((at - prev_set).total_seconds(), (rise - at).total_seconds())
    next_rise = sun_times(lat, lon, day + timedelta(days=1))[0]
    return 0.0, min((at - set_).total_seconds(), (next_rise - at).total_seconds())
