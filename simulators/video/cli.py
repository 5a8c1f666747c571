"""``ioc simulate video``: a synthetic traffic video with its ground truth and edge config."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, cast

import typer

from ioc_core.cli.common import fail_cleanly
from ioc_core.errors import IocError
from simulators.video.conditions import PROFILES, Profile
from simulators.video.generate import VideoSpec, generate
from simulators.video.schedule import FlowSpec


@fail_cleanly
def video(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for video.mp4, truth.json, camera.yaml.")
    ],
    minutes: float = typer.Option(10.0, min=0.01, help="Length of the video."),
    seed: int = typer.Option(1, help="Everything (traffic, weather, scenery, noise) follows it."),
    width: int = typer.Option(1280, min=160, help="Frame width (px)."),
    height: int = typer.Option(720, min=120, help="Frame height (px)."),
    fps: float = typer.Option(25.0, min=1.0, max=120.0, help="Frames per second."),
    flow: float = typer.Option(
        42.0, min=0.0, help="Mean vehicles per minute per direction (about 80 % motorbikes)."
    ),
    conditions: str = typer.Option(
        "mixed", help="mixed (day, clouds, shake, rain, dusk, night), day, or clean."
    ),
    as_json: bool = typer.Option(False, "--json", help="Last line: one JSON summary object."),
) -> None:
    """Write a road scene in perspective with dense, motorbike-dominated traffic, the truth of
    every line crossing, and the edge-node config that scores it."""
    if conditions not in PROFILES:
        raise IocError(f"--conditions must be one of {', '.join(PROFILES)}, not {conditions!r}")
    spec = VideoSpec(
        seed=seed,
        minutes=minutes,
        width=width,
        height=height,
        fps=fps,
        profile=cast(Profile, conditions),
        flow=FlowSpec(per_min=flow),
    )

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\rframe {done}/{total}", end="", file=sys.stderr, flush=True)

    summary = generate(out, spec, progress=progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if as_json:
        print(json.dumps(summary.as_json()))
    else:
        t = summary.totals
        print(
            f"wrote {out}/video.mp4 ({summary.frames} frames, {summary.seconds:.1f} s): "
            f"{summary.crossings} crossings, in {sum(t['in'].values())}, "
            f"out {sum(t['out'].values())}"
        )
