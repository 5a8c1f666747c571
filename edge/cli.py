"""``ioc edge``: run the node on a camera, check a config, score the pipeline against truth."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import cv2
import typer

from edge.config import load_config
from ioc_core.cli.common import fail_cleanly, settings_from_env, stop_on_signals

app = typer.Typer(no_args_is_help=True, help="Edge video node: counts and events, never footage.")
log = logging.getLogger(__name__)


@app.command("run")
@fail_cleanly
def run_cmd(
    config: Annotated[Path, typer.Option("--config", "-c", help="camera.yaml")],
    fast: Annotated[
        bool,
        typer.Option(
            "--fast", help="File sources: as fast as possible instead of at the file's fps."
        ),
    ] = False,
    outbox: Annotated[
        Path | None, typer.Option(help="SQLite outbox (default under IOC_VAR_DIR).")
    ] = None,
    threads: Annotated[int, typer.Option(min=0, help="OpenCV threads (0 = OpenCV's choice).")] = 1,
) -> None:
    """Analyse the camera's video and publish counts, health and events over MQTT until stopped.

    Broker address and account come from the settings (IOC_MQTT_HOST, IOC_MQTT_PORT,
    IOC_MQTT_USERNAME, IOC_MQTT_PASSWORD). A file source without `loop` ends the run when the
    file ends, after the outbox has drained.
    """
    from edge.node import EdgeNode

    if threads:
        cv2.setNumThreads(threads)
    cfg = load_config(config)
    settings = settings_from_env()
    stop = stop_on_signals()
    node = EdgeNode(cfg, settings, realtime=False if fast else None, outbox_path=outbox)
    summary = node.run(stop)
    typer.echo(
        json.dumps(
            {
                "frames": summary.frames,
                "crossings": summary.crossings,
                "intervals": summary.intervals,
                "events": summary.events,
                "wall_s": round(summary.wall_s, 2),
                "counts": summary.by_metric,
            }
        )
    )


@app.command("check")
@fail_cleanly
def check_cmd(config: Annotated[Path, typer.Argument(help="camera.yaml")]) -> None:
    """Validate a camera config; errors name the key and the line."""
    cfg = load_config(config)
    typer.echo(
        f"ok: camera {cfg.camera.id} ({cfg.camera.tenant}), source {cfg.source.kind}, "
        f"{len(cfg.lines)} line(s), {len(cfg.zones)} zone(s), intervals {cfg.intervals_s}"
    )


@app.command("evaluate")
@fail_cleanly
def evaluate_cmd(
    video: Annotated[Path, typer.Option("--video", help="Video file")],
    config: Annotated[Path, typer.Option("--config", help="camera.yaml of the scene")],
    truth: Annotated[Path, typer.Option("--truth", help="truth.json (contract C2)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON result.")] = False,
) -> None:
    """Count crossings in a video and compare with its ground truth; last line is JSON."""
    from edge.evaluate import evaluate
    from edge.truth import load_truth

    result = evaluate(video, load_config(config), load_truth(truth))
    if not as_json:
        typer.echo(f"counted {result['counted_total']} of {result['truth_total']} "
                   f"(abs error {result['abs_error_pct']} %)")  # fmt: skip
        typer.echo(f"per direction: {result['per_direction_error_pct']}")
        typer.echo(f"per class:     {result['per_class_error_pct']}")
    typer.echo(json.dumps(result))
