"""Durations and time anchors as people write them in scenario files: ``90s``, ``10m``, ``6h``,
``1d``, ``1h30m``, and ``dusk+30m`` / ``dawn-1h`` for lighting incidents."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from simulators.sky import next_dawn, next_dusk

_PART = re.compile(r"(\d+(?:\.\d+)?)(d|h|m|s)")
_UNIT_S = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_ANCHOR = re.compile(r"^(dusk|dawn)(?:([+-])(.+))?$")


def parse_duration(text: str | int | float) -> float:
    """Seconds; a bare number is seconds. ValueError says what is accepted."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"duration {text} is negative")
        return float(text)
    compact = text.replace(" ", "")
    parts = _PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration (examples: 90s, 10m, 6h, 1d, 1h30m)")
    return float(sum(float(n) * _UNIT_S[u] for n, u in parts))


def check_anchor(text: str | int | float) -> str | float:
    """Validate an incident's ``at``: a duration after the start, or dusk/dawn +/- a duration."""
    if isinstance(text, str) and (m := _ANCHOR.match(text.replace(" ", ""))):
        if m.group(3) is not None:
            parse_duration(m.group(3))
        return text.replace(" ", "")
    return parse_duration(text)


def resolve_anchor(anchor: str | float, start: datetime) -> datetime:
    """The instant an ``at`` names for a run starting at ``start``."""
    if isinstance(anchor, float | int):
        return start + timedelta(seconds=anchor)
    m = _ANCHOR.match(anchor)
    if m is None:
        raise ValueError(f"{anchor!r} is not an anchor")
    base = next_dusk(start) if m.group(1) == "dusk" else next_dawn(start)
    offset = parse_duration(m.group(3)) if m.group(3) else 0.0
    at = base + timedelta(seconds=offset if m.group(2) != "-" else -offset)
    return at.astimezone(UTC).replace(microsecond=0)
