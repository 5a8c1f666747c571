"""``ioc analytics import-history``: past measurements from a file into telemetry."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from analytics.history.airnow import read_airnow
from analytics.history.errors import HistoryInputError
from analytics.history.importer import import_rows
from analytics.history.long_form import LongRow, read_long_form
from ioc_core.cli.common import fail_cleanly, settings_from_env
from ioc_core.db import connect_db

__all__ = ["import_history_command"]


@fail_cleanly
def import_history_command(
    input_path: Annotated[Path, typer.Option("--input", exists=True, dir_okay=False)],
    fmt: Annotated[
        Literal["long", "airnow"],
        typer.Option("--format", help="long: time,device,metric,value; airnow: AirNow export"),
    ] = "long",
    device: Annotated[
        str | None, typer.Option("--device", help="Registry id the AirNow rows belong to")
    ] = None,
    tz: Annotated[str, typer.Option("--tz", help="Zone of AirNow's local times")] = (
        "Asia/Ho_Chi_Minh"
    ),
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Validate every row, then import all of them in one transaction, or none."""
    settings = settings_from_env()
    extra: dict[str, int] = {}
    if fmt == "airnow":
        if not device:
            raise HistoryInputError(str(input_path), ["--device is required with --format airnow"])
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise HistoryInputError(str(input_path), [f"unknown time zone {tz!r}"]) from None
        read = read_airnow(input_path, zone)
        rows = [LongRow(line, t, device, metric, v) for line, t, metric, v in read.readings]
        extra = {"skipped_missing": read.skipped_missing,
                 "skipped_duplicate": read.skipped_duplicate,
                 "clamped_negative": read.clamped_negative}  # fmt: skip
    else:
        rows = list(read_long_form(input_path))
        if device:
            rows = [r for r in rows if r.device == device]
    # Autocommit: import_rows opens the one transaction the whole file goes through.
    with connect_db(settings, autocommit=True) as conn:
        report = import_rows(
            conn, rows, source=str(input_path),
            max_future=timedelta(seconds=settings.ingest_max_future_s),
        )  # fmt: skip
    result = {**report.as_dict(), **extra}
    if as_json:
        typer.echo(json.dumps(result))
    else:
        typer.echo(" ".join(f"{k}={v}" for k, v in result.items()))
