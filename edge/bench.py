"""``ioc bench edge``: frames per second of the pipeline on one core, per stage.

One process, ``cv2.setNumThreads(1)``, timed in CPU seconds of the processing thread: the figure
is what one core of an edge box sustains, even on a machine shared with other work (the wall
clock figure, ``fps_*_wall``, is printed beside it with the load average).
``fps_720p``/``fps_1080p`` time the pipeline from a decoded frame (resize onward) on the drawn
scene of :mod:`edge.scene`; decoding is measured separately on an MP4 of the same scene
(``decode_ms_*``, ``fps_*_with_decode``), because a camera's hardware decoder or an RTSP
client's may do it elsewhere, and the two together are what a software-only box sustains.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import cv2
import typer

from edge.config import CameraConfig
from edge.pipeline import Pipeline
from edge.scene import Scene
from ioc_core.cli.common import fail_cleanly

# Frames processed before timing starts: the background model's first frames are atypical.
_WARMUP = 50


def _pipeline_fps(width: int, height: int, frames: int, analysis_width: int) -> dict[str, Any]:
    scene = Scene(width=width, height=height, seed=3, rate_per_min=90)
    raw = scene.config(Path("bench.mp4"))
    raw["processing"]["width"] = analysis_width
    pipeline = Pipeline(CameraConfig.model_validate(raw), timer=time.thread_time)
    wall = cpu = 0.0
    n = 0
    for i, frame in enumerate(scene.frames((frames + _WARMUP) / scene.fps)):
        if i == _WARMUP:
            pipeline.clock.reset()
        w0, c0 = time.perf_counter(), time.thread_time()
        pipeline.process(frame, i / scene.fps)
        if i >= _WARMUP:
            wall += time.perf_counter() - w0
            cpu += time.thread_time() - c0
            n += 1
    return {
        "fps": round(n / cpu, 1),
        "fps_wall": round(n / wall, 1),
        "stage_ms": pipeline.clock.ms_per_frame(),
        "crossings_drawn": len(scene.crossings),
    }


def _decode_ms(width: int, height: int, frames: int) -> float:
    """CPU ms per frame to decode an MP4 (mp4v) of the scene with OpenCV's FFmpeg backend."""
    scene = Scene(width=width, height=height, seed=4, rate_per_min=90)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.mp4"
        scene.write(path, frames / scene.fps)
        # One decoding thread, timed in process CPU seconds (FFmpeg decodes on its own threads).
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
        n = 0
        t0 = time.process_time()
        while cap.read()[0]:
            n += 1
        elapsed = time.process_time() - t0
        cap.release()
    return round(elapsed * 1000 / max(n, 1), 3)


def run_bench(*, frames: int, analysis_width: int) -> dict[str, Any]:
    cv2.setNumThreads(1)
    result: dict[str, Any] = {
        "threads": 1,
        "analysis_width": analysis_width,
        "frames": frames,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    for label, (w, h) in (("720p", (1280, 720)), ("1080p", (1920, 1080))):
        run = _pipeline_fps(w, h, frames, analysis_width)
        decode = _decode_ms(w, h, min(frames, 200))
        result[f"fps_{label}"] = run["fps"]
        result[f"fps_{label}_wall"] = run["fps_wall"]
        result[f"stage_ms_{label}"] = run["stage_ms"]
        result[f"decode_ms_{label}"] = decode
        per_frame_ms = 1000 / run["fps"] + decode
        result[f"fps_{label}_with_decode"] = round(1000 / per_frame_ms, 1)
    result["stage_ms"] = result["stage_ms_720p"]
    return result


@fail_cleanly
def bench_edge(
    frames: Annotated[int, typer.Option(min=100, help="Timed frames per resolution.")] = 1500,
    width: Annotated[int, typer.Option(min=64, help="Analysis width (processing.width).")] = 640,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON result.")] = False,
) -> None:
    """Pipeline frames/s on one core from 1280x720 and 1920x1080 input; last line is JSON."""
    if as_json:
        logging.getLogger().setLevel(logging.WARNING)
    result = run_bench(frames=frames, analysis_width=width)
    if not as_json:
        for key in ("fps_720p", "fps_1080p", "fps_720p_with_decode", "fps_1080p_with_decode"):
            typer.echo(f"{key:24} {result[key]}")
        for stage, ms in result["stage_ms"].items():
            typer.echo(f"  {stage:12} {ms:8.3f} ms/frame (720p)")
    typer.echo(json.dumps(result))
