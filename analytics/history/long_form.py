"""The long form shared by history import, backtests and ``ioc simulate history``:
``time,device,metric,value`` with ISO 8601 times that carry their UTC offset.

A time without an offset is rejected rather than guessed: Hanoi's local clock and UTC differ
by seven hours, which is a whole forecast horizon's worth of error.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from analytics.history.errors import MAX_PROBLEMS, HistoryInputError

__all__ = ["COLUMNS", "LongRow", "parse_time", "read_long_form"]

COLUMNS: Final = ("time", "device", "metric", "value")


@dataclass(frozen=True, slots=True)
class LongRow:
    line: int
    time: datetime
    device: str
    metric: str
    value: float


def parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"time {text!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset (write e.g. +07:00)")
    return moment


def parse_row(row: list[str], line: int) -> LongRow:
    if len(row) != len(COLUMNS):
        raise ValueError(f"expected {len(COLUMNS)} columns, got {len(row)}")
    time_text, device, metric, value_text = (c.strip() for c in row)
    if not device:
        raise ValueError("device is empty")
    if not metric:
        raise ValueError("metric is empty")
    try:
        value = float(value_text)
    except ValueError:
        raise ValueError(f"value {value_text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"value {value_text!r} is not finite")
    return LongRow(line, parse_time(time_text), device, metric, value)


def read_long_form(path: Path) -> Iterator[LongRow]:
    """Every row, in file order; raises :class:`HistoryInputError` listing every bad line
    (after reading the whole file, so one run shows all that needs fixing)."""
    rows: list[LongRow] = []
    problems: list[str] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != COLUMNS:
            raise HistoryInputError(str(path), [f"line 1: header must be {','.join(COLUMNS)}"])
        for row in reader:
            if not row:
                continue
            try:
                rows.append(parse_row(row, reader.line_num))
            except ValueError as exc:
                problems.append(f"line {reader.line_num}: {exc}")
                if len(problems) > MAX_PROBLEMS * 20:
                    break
    if problems:
        raise HistoryInputError(str(path), problems)
    yield from rows
