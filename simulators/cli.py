"""``ioc simulate``: the simulated city over the real MQTT contract.

``ioc simulate --devices N --scenario S --speed X --seed K --seconds T [--json]`` runs a fleet;
``ioc simulate scenario NAME`` runs a scenario exactly as contract C3 says (``now - duration``
to now) and writes its truth; ``ioc simulate history`` writes synthetic history without a
broker; ``--replay FILE.csv`` replays a recording. Sub-commands of other owners (``video``)
are registered on the same ``app``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from ioc_core.cli.common import fail_cleanly, settings_from_env, stop_on_signals
from ioc_core.errors import IocError
from simulators.air_quality import AirQualityFleet
from simulators.video.cli import video as video_command

# One option, one meaning, on every command that connects to the broker.
ConnectTimeout = Annotated[
    float | None,
    typer.Option(
        min=0.1,
        help="Seconds to wait for the broker before giving up (default: 60 + 0.2 per link).",
    ),
]

app = typer.Typer(help="Simulated devices: the city, scenarios with ground truth, history, replay.")
app.command("video")(video_command)


def _emit_json(data: dict[str, object]) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False))


@app.callback(invoke_without_command=True)
@fail_cleanly
def simulate(
    ctx: typer.Context,
    devices: Annotated[
        int | None,
        typer.Option(min=8, help="Fleet size, composed like the city (default: the scenario's)."),
    ] = None,
    scenario: Annotated[str, typer.Option(help="Bundled scenario name or YAML path.")] = "standard",
    speed: Annotated[float, typer.Option(min=0.001, help="Simulated s per wall second.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Same seed, same city and incidents.")] = 1,
    seconds: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="Wall seconds to run (default: the scenario up to now, or forever at speed 1).",
        ),
    ] = None,
    truth: Annotated[Path | None, typer.Option(help="Write the ground truth JSON here.")] = None,
    replay: Annotated[
        Path | None, typer.Option(help="Replay a long-form CSV (time,device,metric,value).")
    ] = None,
    prompt: Annotated[
        bool, typer.Option(help="Every device reports within seconds of start (demo).")
    ] = False,
    progress: Annotated[
        bool | None, typer.Option(help="Progress on stderr (default: on a terminal or long run).")
    ] = None,
    connect_timeout: ConnectTimeout = None,
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON object.")] = False,
) -> None:
    """Run a simulated fleet (see the options); sub-commands below do other things."""
    if ctx.invoked_subcommand is not None:
        return
    from simulators.engine import Engine
    from simulators.registration import register_fleet
    from simulators.replay import replay as replay_csv
    from simulators.scenarios import load_scenario, prepare

    settings = settings_from_env()
    stop = stop_on_signals()
    show = progress if progress is not None else (sys.stderr.isatty() or (seconds or 0) >= 30)
    if replay is not None:
        stats = replay_csv(
            settings, replay, speed=speed, stop=stop, progress=show, connect_timeout=connect_timeout
        )
        _report(stats.as_json(), as_json)
        return
    sc = load_scenario(scenario)
    # Register first (100,000 devices take a minute or two), then fix the clock, so the first
    # readings are not stamped that long before they are sent.
    fleet = prepare(sc, seed=seed, start=datetime.now(UTC), devices=devices).fleet
    typer.echo(f"registering {len(fleet):,} devices…", err=True)
    logins = register_fleet(settings, fleet)
    now = datetime.now(UTC).replace(microsecond=0)
    if seconds is not None:
        start = now - timedelta(seconds=seconds * (speed - 1))
        end: datetime | None = start + timedelta(seconds=seconds * speed)
    elif speed == 1:
        start, end = now, None
    else:
        start, end = now - timedelta(seconds=sc.duration_s), now
    prepared = prepare(sc, seed=seed, start=start, devices=devices)
    if end is not None:  # incidents the run will not reach are not in its truth
        prepared.incidents = [i for i in prepared.incidents if i.start < end]
        for inc in prepared.incidents:
            inc.end = min(inc.end, end)
    if truth is not None:
        prepared.truth().write(truth)
    try:
        engine = Engine(
            settings,
            prepared.fleet,
            prepared.world,
            sim_start=start,
            speed=speed,
            sim_end=end,
            incidents=prepared.incidents,
            logins=logins,
            stop=stop,
            prompt=prompt,
            progress=show,
            seed=seed,
            connect_timeout=connect_timeout,
        )
    except ValueError as exc:
        raise IocError(str(exc)) from exc
    typer.echo(
        f"{len(prepared.fleet):,} devices on {engine.stats.links:,} links, target"
        f" {engine.stats.target_msgs_per_s:,.1f} msg/s; simulated time from {start.isoformat()}",
        err=True,
    )
    stats = engine.run()
    _report(stats.as_json(), as_json)


def _report(data: dict[str, object], as_json: bool) -> None:
    if as_json:
        _emit_json(data)
    else:
        for key, value in data.items():
            typer.echo(f"{key:>20}: {value}")


@app.command("scenario")
@fail_cleanly
def scenario_cmd(
    name: Annotated[str, typer.Argument(help="Bundled scenario name or YAML path.")],
    speed: Annotated[float, typer.Option(min=0.001, help="Simulated s per wall second.")] = 60.0,
    seed: Annotated[int, typer.Option()] = 1,
    truth: Annotated[Path, typer.Option(help="Where the ground truth goes.")] = Path("truth.json"),
    connect_timeout: ConnectTimeout = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run a scenario from now - duration to now (contract C3) and write its ground truth."""
    from simulators.scenarios import load_scenario, run_scenario

    stop = stop_on_signals()
    result = run_scenario(
        settings_from_env(),
        load_scenario(name),
        speed=speed,
        seed=seed,
        stop=stop,
        truth_path=truth,
        progress=sys.stderr.isatty(),
        connect_timeout=connect_timeout,
    )
    summary: dict[str, object] = {"truth": str(truth), "incidents": len(result.incidents)}
    if result.stats is not None:
        summary |= result.stats.as_json()
    _report(summary, as_json)


@app.command("scenarios")
def scenarios_cmd() -> None:
    """List the bundled scenarios."""
    from simulators.scenarios import bundled_scenarios, load_scenario

    for name in bundled_scenarios():
        sc = load_scenario(name)
        incidents = len(sc.spec.incidents)
        typer.echo(
            f"{name:<12} {sc.duration_s / 3600:5.1f} h  {incidents:2d} incidents  "
            f"{sc.spec.description.strip()[:70]}"
        )


@app.command("history")
@fail_cleanly
def history_cmd(
    kinds: Annotated[str, typer.Option(help="Comma-separated device kinds.")],
    days: Annotated[float, typer.Option(min=0.01, max=3650, help="Days back from now.")],
    out: Annotated[Path, typer.Option(help="CSV file to write (time,device,metric,value).")],
    seed: Annotated[int, typer.Option()] = 1,
    per_kind: Annotated[int, typer.Option(min=1, help="Devices of each kind.")] = 2,
    step: Annotated[
        float | None, typer.Option(min=1, help="Seconds between readings (default: the kind's).")
    ] = None,
) -> None:
    """Write synthetic history (no broker): long form, for forecasts and tests."""
    from simulators.history import history_rows, write_history

    try:
        rows = write_history(
            out,
            history_rows(
                [k.strip() for k in kinds.split(",") if k.strip()],
                days=days,
                seed=seed,
                per_kind=per_kind,
                step_s=step,
            ),
        )
    except ValueError as exc:
        raise IocError(str(exc)) from exc
    typer.echo(f"{rows:,} rows written to {out}", err=True)


@app.command("air-quality")
@fail_cleanly
def air_quality(
    stations: Annotated[int, typer.Option(min=1, help="How many stations.")] = 24,
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between readings.")] = 5.0,
    count: Annotated[int | None, typer.Option(help="Stop after this many rounds.")] = None,
) -> None:
    """Register air-quality stations and publish their readings until stopped."""
    stop = stop_on_signals()
    fleet = AirQualityFleet(settings_from_env(), stations=stations, interval_s=interval)
    fleet.start()
    try:
        fleet.run(stop, count=count)
    finally:
        fleet.close()


@app.command("calibrate")
@fail_cleanly
def calibrate_cmd(
    data: Annotated[
        Path | None, typer.Option(help="Folder of the real series (shared/data/real).")
    ] = None,
    seed: Annotated[int, typer.Option()] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Compare simulated PM2.5, traffic and water level with the real series (shape figures)."""
    from simulators.calibration import DEFAULT_DATA, calibrate

    folder = data or DEFAULT_DATA
    if not folder.is_dir():
        raise IocError(f"{folder}: no such folder; pass --data shared/data/real")
    result = calibrate(folder, seed)
    if not as_json:
        for series, figures in result.items():
            typer.echo(series)
            for key, value in figures.items():
                typer.echo(f"  {key:>26}: {value}")
    _emit_json(result)
