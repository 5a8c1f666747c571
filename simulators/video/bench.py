"""``ioc bench video``: how fast the generator writes 720p traffic video on this machine."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import typer

from ioc_core.cli.common import fail_cleanly
from simulators.video.generate import VideoSpec, generate


@fail_cleanly
def bench_video(
    seconds: float = typer.Option(60.0, min=1.0, help="Length of the benchmark video."),
    width: int = typer.Option(1280, min=160, help="Frame width (px)."),
    height: int = typer.Option(720, min=120, help="Frame height (px)."),
    seed: int = typer.Option(1, help="Scene seed."),
    as_json: bool = typer.Option(False, "--json", help="Print only the JSON result."),
) -> None:
    """Generate a mixed-conditions video into a temporary folder and report its speed.

    ``cpu_ms_per_frame`` (all threads of the process) is the figure that survives a busy
    machine; ``minutes_per_10_min_video`` extrapolates the wall time to the issue's 10 minutes.
    """
    spec = VideoSpec(seed=seed, minutes=seconds / 60.0, width=width, height=height)
    with tempfile.TemporaryDirectory(prefix="ioc-bench-video-") as tmp:
        summary = generate(Path(tmp), spec)
        size = (Path(tmp) / "video.mp4").stat().st_size
    result = {
        "frames": summary.frames,
        "width": width,
        "height": height,
        "seconds": round(summary.seconds, 2),
        "cpu_seconds": round(summary.cpu_seconds, 2),
        "fps_generated": round(summary.frames / summary.seconds, 1),
        "cpu_ms_per_frame": round(1000 * summary.cpu_seconds / summary.frames, 2),
        "minutes_per_10_min_video": round(summary.seconds / spec.duration_s * 600.0 / 60.0, 2),
        "mbit_per_s": round(size * 8 / spec.duration_s / 1e6, 2),
        "crossings": summary.crossings,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    if not as_json:
        typer.echo(
            f"{result['frames']} frames in {result['seconds']} s "
            f"({result['fps_generated']} fps, {result['cpu_ms_per_frame']} CPU ms/frame)"
        )
    typer.echo(json.dumps(result))
