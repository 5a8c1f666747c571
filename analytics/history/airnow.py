"""The AirNow export (US Embassy PM2.5, as in ``shared/data/real``) read as hourly readings.

``Date (LT)`` is the station's local clock at the start of the averaging hour, as exported,
with no offset; the caller says which zone it is (Hanoi: UTC+7, no daylight saving). Rows whose
``QC Name`` is not ``Valid`` or whose ``Raw Conc.`` is -999 are missing hours, skipped and
counted, not errors. A local hour that appears twice (the file repeats 03:00 each March, an
artefact of US daylight saving) keeps its first row and is counted as a duplicate. A slightly
negative valid value (down to -5 µg/m³, a beta-attenuation monitor's noise near zero) is
stored as 0 and counted; anything lower is an error.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Final

from analytics.history.errors import MAX_PROBLEMS, HistoryInputError

__all__ = ["AirNowRead", "read_airnow"]

REQUIRED: Final = ("Parameter", "Date (LT)", "Raw Conc.", "Conc. Unit", "QC Name")
MISSING: Final = -999.0
NOISE_FLOOR: Final = -5.0  # µg/m³: valid readings down to this are noise around zero
PARAMETERS: Final = {"PM2.5": "pm25", "PM10": "pm10", "O3": "o3", "NO2": "no2"}


@dataclass(slots=True)
class AirNowRead:
    readings: list[tuple[int, datetime, str, float]] = field(default_factory=list)
    skipped_missing: int = 0
    skipped_duplicate: int = 0
    clamped_negative: int = 0


def read_airnow(path: Path, tz: tzinfo) -> AirNowRead:
    out = AirNowRead()
    problems: list[str] = []
    seen: set[tuple[str, datetime]] = set()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if absent:
            raise HistoryInputError(str(path), [f"line 1: missing column(s) {', '.join(absent)}"])
        for row in reader:
            line = reader.line_num
            try:
                parsed = _parse(row, tz)
            except ValueError as exc:
                problems.append(f"line {line}: {exc}")
                if len(problems) > MAX_PROBLEMS * 20:
                    break
                continue
            if parsed is None:
                out.skipped_missing += 1
                continue
            moment, metric, value = parsed
            if value < 0:
                out.clamped_negative += 1
                value = 0.0
            if (metric, moment) in seen:
                out.skipped_duplicate += 1
                continue
            seen.add((metric, moment))
            out.readings.append((line, moment, metric, value))
    if problems:
        raise HistoryInputError(str(path), problems)
    return out


def _parse(row: dict[str, str], tz: tzinfo) -> tuple[datetime, str, float] | None:
    parameter = (row.get("Parameter") or "").split(" - ")[0].strip()
    metric = PARAMETERS.get(parameter)
    if metric is None:
        raise ValueError(f"unknown Parameter {row.get('Parameter')!r}")
    stamp = (row.get("Date (LT)") or "").strip()
    try:
        local = datetime.strptime(stamp, "%Y-%m-%d %I:%M %p")
    except ValueError:
        raise ValueError(f"Date (LT) {stamp!r} is not like 2016-01-01 01:00 AM") from None
    raw = (row.get("Raw Conc.") or "").strip()
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"Raw Conc. {raw!r} is not a number") from None
    if (row.get("QC Name") or "").strip() != "Valid" or value == MISSING:
        return None
    unit = (row.get("Conc. Unit") or "").strip().upper()
    if unit != "UG/M3":
        raise ValueError(f"Conc. Unit {unit!r}: only UG/M3 is understood")
    if value < NOISE_FLOOR:
        raise ValueError(f"Raw Conc. {value} is below {NOISE_FLOOR}: not noise around zero")
    return local.replace(tzinfo=tz), metric, value
