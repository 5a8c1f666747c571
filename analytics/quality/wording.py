"""How findings spell numbers and durations: short, and the same in every detector."""

from __future__ import annotations

from datetime import timedelta


def num(value: float) -> str:
    """Four significant digits, no exponent for the magnitudes sensors report."""
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3g}"
    return f"{value:.4g}"


def duration(span: timedelta | float) -> str:
    seconds = round(span.total_seconds() if isinstance(span, timedelta) else span)
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"


def with_unit(value: float, unit: str) -> str:
    return num(value) if unit in ("1", "") else f"{num(value)} {unit}"
