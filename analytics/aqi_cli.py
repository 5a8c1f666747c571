"""``ioc aqi``: VN_AQI from a CSV of hourly means, without the database.

One command with options (the group's callback), so ``ioc aqi --input F --json`` works as is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from analytics.aqi import AqiInputError, aqi_report, read_long_csv

app = typer.Typer(
    add_completion=False,
    invoke_without_command=True,
    help="VN_AQI (QĐ 1459/QĐ-TCMT) from hourly means in a CSV file.",
)

_INPUT_HELP = (
    "CSV in long form with header time,station,metric,value. time: ISO 8601 with a UTC offset, "
    "on the hour, stamped at the END of the hourly mean (01:00 = mean of 00:00-01:00), converted "
    "to Vietnam time (UTC+7); metric: pm25 pm10 o3 co so2 no2; value: hourly mean in ug/m3."
)


@app.callback()
def aqi(
    input_path: Annotated[
        Path, typer.Option("--input", exists=True, dir_okay=False, help=_INPUT_HELP)
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as one JSON object, on the last line.")
    ] = False,
) -> None:
    """Hourly (PM NowCast) and daily (01:00-00:00) VN_AQI per station, with the dominant
    parameter. An hour or day without enough data has aqi null, never a guess."""
    try:
        report = aqi_report(read_long_csv(input_path))
    except AqiInputError as exc:
        for problem in exc.problems:
            typer.secho(f"error: {exc.source}: {problem}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(report.model_dump_json())
        return
    for row in report.daily:
        shown = "-" if row.aqi is None else f"{row.aqi} ({row.dominant})"
        typer.echo(f"{row.station}  {row.date}  daily AQI {shown}")
    typer.echo(f"{len(report.hourly)} hourly and {len(report.daily)} daily values")
