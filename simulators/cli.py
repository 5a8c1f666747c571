"""``ioc simulate``: simulated devices publishing over the real MQTT contract."""

from __future__ import annotations

import typer

from ioc_core.cli.common import fail_cleanly, settings_from_env, stop_on_signals
from simulators.air_quality import AirQualityFleet
from simulators.video.cli import video as video_command

app = typer.Typer(no_args_is_help=True, help="Simulated devices.")
app.command("video")(video_command)


@app.command("air-quality")
@fail_cleanly
def air_quality(
    stations: int = typer.Option(24, min=1, help="How many stations."),
    interval: float = typer.Option(5.0, min=0.05, help="Seconds between readings."),
    count: int | None = typer.Option(None, help="Stop after this many rounds."),
) -> None:
    """Register air-quality stations and publish their readings until stopped."""
    stop = stop_on_signals()
    fleet = AirQualityFleet(settings_from_env(), stations=stations, interval_s=interval)
    fleet.start()
    try:
        fleet.run(stop, count=count)
    finally:
        fleet.close()
