"""Synthetic history without a broker: ``time,device,metric,value`` rows for forecasts and tests.

The same fleet and signal models as a live run, sampled over past days in realistic mode
(season-driven PM with inversion episodes, rain events), written in long form.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from simulators.city import KINDS, build_fleet
from simulators.weather import Weather
from simulators.world import AirOptions, World


def history_rows(
    kinds: list[str],
    *,
    days: float,
    seed: int,
    per_kind: int = 2,
    step_s: float | None = None,
    end: datetime | None = None,
) -> Iterator[tuple[str, str, str, float]]:
    """(ISO time, device, metric, value) in time order per device."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown kinds {', '.join(unknown)}; known: {', '.join(KINDS)}")
    counts = {k: per_kind for k in kinds}
    if "street_light" in counts and "lighting_cabinet" not in counts:
        counts["lighting_cabinet"] = 1
    fleet = [d for d in build_fleet(counts, seed=seed) if d.kind in kinds]
    end = (end or datetime.now(UTC)).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    world = World(seed=seed, weather=Weather(seed=seed, start=start, end=end), air=AirOptions())
    for dev in fleet:
        step = timedelta(seconds=step_s or dev.interval_s)
        at = start
        while at <= end:
            iso = at.isoformat()
            for metric, value in dev.signal.sample(at, world).items():
                yield iso, dev.id, metric, value
            at += step


def write_history(out: Path | TextIO, rows: Iterator[tuple[str, str, str, float]]) -> int:
    """Write rows with a header; returns how many rows were written."""
    handle = out.open("w", encoding="utf-8", newline="") if isinstance(out, Path) else out
    try:
        writer = csv.writer(handle)
        writer.writerow(("time", "device", "metric", "value"))
        n = 0
        for row in rows:
            writer.writerow(row)
            n += 1
        return n
    finally:
        if isinstance(out, Path):
            handle.close()
