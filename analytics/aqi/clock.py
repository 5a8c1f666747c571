"""How hourly means are stamped, and which VN_AQI day an hour belongs to.

Convention: an hourly mean is stamped at the END of its hour (the 01:00 value averages
00:00–01:00), as Vietnamese station software labels them. With it the decision's day "from
01:00 to 00:00 of the next day" is exactly the 24 hourly means covering 00:00–24:00 local time.
Vietnam keeps UTC+7 all year (no DST since 1975), so a fixed offset equals Asia/Ho_Chi_Minh and
needs no tz database.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Final

__all__ = ["HOUR", "VN_TZ", "day_hours", "day_of", "to_local"]

VN_TZ: Final = timezone(timedelta(hours=7), "ICT")
HOUR: Final = timedelta(hours=1)


def to_local(moment: datetime) -> datetime:
    """``moment`` (timezone-aware) in Vietnam time."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no UTC offset")
    return moment.astimezone(VN_TZ)


def day_of(hour_end: datetime) -> date:
    """The VN_AQI day of an hourly mean stamped at its end: 00:00 belongs to the day before."""
    return (to_local(hour_end) - HOUR).date()


def day_hours(day: date) -> list[datetime]:
    """The 24 hour-end stamps of ``day``: 01:00 of ``day`` through 00:00 of the next day."""
    first = datetime.combine(day, time(1), VN_TZ)
    return [first + i * HOUR for i in range(24)]
