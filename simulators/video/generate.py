"""One run of the generator: schedule, simulate, render, encode, and write the truth beside it.

Everything random comes from one seed through ``numpy.random.SeedSequence.spawn``, a separate
stream per concern (conditions, traffic, scenery, effects), so a change in how one is drawn does
not reshuffle the others.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from ioc_core.errors import IocError
from simulators.video.backdrop import build_backdrop
from simulators.video.camera import CameraModel
from simulators.video.camera_config import camera_config
from simulators.video.conditions import Profile, Segment, light_level, plan_conditions, segment_at
from simulators.video.encode import FrameWriter
from simulators.video.pedestrians import plan_walkers
from simulators.video.render import Look, Renderer
from simulators.video.scene import RoadLayout
from simulators.video.schedule import FlowSpec, schedule_vehicles
from simulators.video.traffic import TrafficSim
from simulators.video.truth import TRUTH_FORMAT, CrossingRecorder, counting_lines, totals
from simulators.video.vehicles import Vehicle

WARMUP_S = 30.0  # simulated before frame 0 so the first frame shows a road in use
PAD_PX = 8  # canvas margin for camera shake


@dataclass(frozen=True, slots=True)
class VideoSpec:
    seed: int = 1
    minutes: float = 10.0
    width: int = 1280
    height: int = 720
    fps: float = 25.0
    profile: Profile = "mixed"
    flow: FlowSpec = field(default_factory=FlowSpec)

    @property
    def frames(self) -> int:
        return round(self.minutes * 60.0 * self.fps)

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps


@dataclass(frozen=True, slots=True)
class Summary:
    frames: int
    crossings: int
    totals: dict[str, dict[str, int]]
    seconds: float
    cpu_seconds: float  # this process, all threads: the figure that means something on a busy box
    frames_sha256: str | None
    out_dir: str

    def as_json(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "crossings": self.crossings,
            "totals": self.totals,
            "seconds": round(self.seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "fps_generated": round(self.frames / max(self.seconds, 1e-9), 1),
            "frames_sha256": self.frames_sha256,
            "out": self.out_dir,
        }


@dataclass(slots=True)
class Scene:
    """Everything fixed for a run, before any frame is drawn."""

    spec: VideoSpec
    camera: CameraModel
    layout: RoadLayout
    segments: list[Segment]
    vehicles: list[Vehicle]
    streams: list[np.random.Generator]


def plan_scene(spec: VideoSpec, vehicles: Sequence[Vehicle] | None = None) -> Scene:
    """Conditions and the vehicle schedule for a spec; ``vehicles`` replaces the random
    schedule (tests drive known vehicles through the scene this way)."""
    seq = np.random.SeedSequence(spec.seed)
    cond_rng, traffic_rng, scenery_rng, effects_rng = (
        np.random.default_rng(s) for s in seq.spawn(4)
    )
    camera = CameraModel(width=spec.width, height=spec.height)
    layout = RoadLayout()
    segments = plan_conditions(cond_rng, spec.duration_s, spec.profile)
    if vehicles is None:
        rain = tuple((s.from_s, s.to_s) for s in segments if s.rain)
        vehicles = schedule_vehicles(
            traffic_rng,
            layout,
            start_s=-WARMUP_S,
            end_s=spec.duration_s,
            flow=spec.flow,
            rain_at=rain,
        )
    return Scene(spec, camera, layout, segments, list(vehicles), [scenery_rng, effects_rng])


def _ponchos(scene: Scene) -> frozenset[int]:
    return frozenset(
        v.id
        for v in scene.vehicles
        if v.cls in ("motorbike", "bicycle")
        and any(s.from_s <= v.arrival_s < s.to_s for s in scene.segments if s.rain)
    )


def render_frames(
    scene: Scene,
    *,
    on_frame: Callable[[np.ndarray], None],
    recorder: CrossingRecorder | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Simulate and draw every frame in order, handing each to ``on_frame``."""
    spec = scene.spec
    scenery_rng, effects_rng = scene.streams
    backdrop = build_backdrop(scenery_rng, scene.camera, scene.layout, pad=PAD_PX)
    renderer = Renderer(
        scene.vehicles,
        backdrop,
        effects_rng,
        camera_x_m=scene.camera.x_m,
        ponchos=_ponchos(scene),
        walkers=plan_walkers(scenery_rng, scene.layout),
    )
    warm = round(WARMUP_S * spec.fps)
    sim = TrafficSim(scene.vehicles, scene.layout, fps=spec.fps, start_frame=-warm)
    for _ in range(warm):
        sim.step()
    out_size = (spec.width, spec.height)
    for f in range(spec.frames):
        state = sim.step()
        if recorder is not None:
            recorder.observe(state, spec.fps)
        t = f / spec.fps
        segment = segment_at(scene.segments, t)
        look = Look.at(light_level(scene.segments, t), overcast=segment.rain)
        canvas = renderer.background(look.level)
        renderer.draw_people(canvas, t, look)
        renderer.draw_traffic(canvas, state, look)
        on_frame(renderer.finish(canvas, t, segment, look, out_size))
        if progress is not None and (f % 250 == 0 or f == spec.frames - 1):
            progress(f + 1, spec.frames)


def generate(
    out_dir: Path,
    spec: VideoSpec,
    *,
    hash_frames: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Summary:
    """Write ``video.mp4``, ``truth.json`` and ``camera.yaml`` into ``out_dir``."""
    started, cpu_started = time.perf_counter(), time.process_time()
    out_dir.mkdir(parents=True, exist_ok=True)
    scene = plan_scene(spec)
    lines = counting_lines(scene.layout, scene.camera)
    recorder = CrossingRecorder(scene.vehicles, lines, scene.camera)
    video = out_dir / "video.mp4"
    with FrameWriter(
        video, fps=spec.fps, size=(spec.width, spec.height), hash_frames=hash_frames
    ) as writer:
        render_frames(scene, on_frame=writer.write, recorder=recorder, progress=progress)
        frames_sha256 = writer.close()
    _check_readback(video, spec.frames)
    crossings = sorted(recorder.crossings, key=lambda c: (c.frame, c.line, c.vehicle))
    tot = totals(crossings)
    truth = {
        "format": TRUTH_FORMAT,
        "seed": spec.seed,
        "fps": spec.fps,
        "frames": spec.frames,
        "width": spec.width,
        "height": spec.height,
        "duration_s": spec.duration_s,
        "lines": [line.as_contract() for line in lines],
        "crossings": [c.as_contract() for c in crossings],
        "totals": tot,
        "conditions": [s.as_contract() for s in scene.segments],
        "generator": {
            "profile": spec.profile,
            "flow_per_min": spec.flow.per_min,
            "vehicles_scheduled": len(scene.vehicles),
        },
    }
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    config = camera_config(scene.camera, scene.layout, lines)
    (out_dir / "camera.yaml").write_text(
        f"# Written by `ioc simulate video` (seed {spec.seed}): the edge-node config for this "
        "scene.\n" + yaml.safe_dump(config, sort_keys=False, default_flow_style=None),
        encoding="utf-8",
    )
    return Summary(
        frames=spec.frames,
        crossings=len(crossings),
        totals=tot,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
        frames_sha256=frames_sha256,
        out_dir=str(out_dir),
    )


def _check_readback(video: Path, frames: int) -> None:
    """The file must decode with the frame count we wrote, or it is no use to the edge node."""
    cap = cv2.VideoCapture(str(video))
    try:
        if not cap.isOpened():
            raise IocError(f"{video} was written but cannot be opened for reading")
        counted = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    if counted != frames:
        raise IocError(f"{video} reads back {counted} frames, {frames} were written")
