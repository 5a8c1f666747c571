"""The video generator's frames agree with its truth, and its files agree with the contracts."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulators.video.generate import VideoSpec, generate, plan_scene, render_frames
from simulators.video.scene import RoadLayout
from simulators.video.truth import CrossingRecorder, counting_lines
from simulators.video.vehicles import Vehicle

IOC = Path(sys.executable).with_name("ioc")


def _car(vid: int, direction: str, lane: str, speed: float, arrival: float) -> Vehicle:
    x = next(la for la in RoadLayout().lanes if la.name == lane).centre
    return Vehicle(
        id=vid,
        cls="car",
        direction=direction,
        x_m=x,
        length_m=4.5,
        width_m=1.8,
        height_m=1.5,
        speed_ms=speed,
        arrival_s=arrival,
        body_rgb=(200, 40, 40),
    )


def _grey_frames(spec: VideoSpec, vehicles: list[Vehicle]) -> tuple[list[np.ndarray], list]:
    scene = plan_scene(spec, vehicles=vehicles)
    lines = counting_lines(scene.layout, scene.camera)
    recorder = CrossingRecorder(scene.vehicles, lines, scene.camera)
    frames: list[np.ndarray] = []
    render_frames(
        scene,
        on_frame=lambda f: frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)),
        recorder=recorder,
    )
    return frames, recorder.crossings


@pytest.mark.slow
@pytest.mark.parametrize(("direction", "lane"), [("in", "in-1"), ("out", "out-1")])
def test_the_counted_frame_is_where_the_drawn_vehicle_bottom_meets_the_line(direction, lane):
    """Find the drawn car in the frames (difference with the empty road), take the bottom of its
    blob, map it to the ground with the calibration camera.yaml would carry, and check that it
    reaches the counting line at the frame the truth says."""
    spec = VideoSpec(seed=4, minutes=9.0 / 60, width=640, height=360, profile="clean")
    car = _car(0, direction, lane, speed=9.7, arrival=0.5)
    with_car, crossings = _grey_frames(spec, [car])
    empty, _ = _grey_frames(spec, [])
    [truth] = crossings
    assert (truth.line, truth.direction) == (lane, direction)

    scene = plan_scene(spec)
    layout, camera = scene.layout, scene.camera
    lane_poly = next(la for la in layout.lanes if la.name == lane)
    strip = camera.project_ground(
        np.array(
            [
                (lane_poly.x_min, 9.0),
                (lane_poly.x_max, 9.0),
                (lane_poly.x_max, 40.0),
                (lane_poly.x_min, 40.0),
            ]
        )
    )
    mask = np.zeros(empty[0].shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(strip).astype(np.int32), 1)
    from simulators.video.camera_config import calibration_points

    ground = np.array(calibration_points(layout), np.float32)
    image = camera.project_ground(ground.astype(np.float64)).astype(np.float32)
    to_ground = cv2.getPerspectiveTransform(image, ground)

    def bottom_y_m(f: int) -> float | None:
        diff = (cv2.absdiff(with_car[f], empty[f]) > 10) & (mask > 0)
        rows = np.flatnonzero(diff.any(axis=1))
        if len(rows) == 0:
            return None
        row = int(rows.max())
        col = float(np.flatnonzero(diff[row]).mean())
        pt = cv2.perspectiveTransform(np.array([[[col, row + 0.5]]], np.float32), to_ground)
        return float(pt[0, 0, 1])

    ys = [bottom_y_m(f) for f in range(len(with_car))]
    if direction == "in":
        seen = [f for f, y in enumerate(ys) if y is not None and y <= layout.line_y_m]
    else:
        seen = [
            f
            for f, y in enumerate(ys)
            if y is not None
            and y >= layout.line_y_m
            and ys[f - 1] is not None
            and ys[f - 1] < layout.line_y_m
        ]
    assert seen, "the car was never seen past the line"
    assert abs(seen[0] - truth.frame) <= 1, (seen[0], truth.frame)


@pytest.mark.slow
def test_same_seed_gives_identical_frames_files_and_truth_and_another_seed_does_not(tmp_path):
    # Mixed conditions, so rain, shake and noise are in the 2 s as well (segments scale).
    spec = VideoSpec(seed=21, minutes=2.0 / 60, width=320, height=180, profile="mixed")
    runs = [
        generate(tmp_path / "a", spec, hash_frames=True),
        generate(tmp_path / "b", spec, hash_frames=True),
        generate(tmp_path / "c", replace(spec, seed=22), hash_frames=True),
    ]
    files = [
        {
            name: (tmp_path / d / name).read_bytes()
            for name in ("video.mp4", "truth.json", "camera.yaml")
        }
        for d in "abc"
    ]
    assert runs[0].frames_sha256 == runs[1].frames_sha256
    assert files[0] == files[1]
    assert runs[0].frames_sha256 != runs[2].frames_sha256
    assert files[0]["truth.json"] != files[2]["truth.json"]


# --- Contract C1, as a strict model of its own (edge.config is authoritative when present) ---


class _S(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Camera(_S):
    id: str
    tenant: str


class _Source(_S):
    kind: str
    path: str
    loop: bool


class _Line(_S):
    name: str
    a: tuple[float, float]
    b: tuple[float, float]
    in_direction: tuple[float, float]


class _Zone(_S):
    name: str
    polygon: list[tuple[float, float]] = Field(min_length=3)


class _Calibration(_S):
    image: list[tuple[float, float]] = Field(min_length=4, max_length=4)
    ground: list[tuple[float, float]] = Field(min_length=4, max_length=4)


class _Processing(_S):
    width: int


class _Snapshots(_S):
    enabled: bool


class CameraYaml(_S):
    camera: _Camera
    source: _Source
    processing: _Processing
    roi: list[tuple[float, float]] = Field(min_length=3)
    lines: list[_Line] = Field(min_length=1)
    zones: list[_Zone]
    calibration: _Calibration
    intervals_s: list[int]
    snapshots: _Snapshots

    @model_validator(mode="after")
    def _names_unique(self) -> CameraYaml:
        assert len({line.name for line in self.lines}) == len(self.lines)
        return self


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("video")
    proc = subprocess.run(
        [
            str(IOC),
            "simulate",
            "video",
            "--out",
            str(out),
            "--minutes",
            "0.08",
            "--seed",
            "5",
            "--width",
            "480",
            "--height",
            "270",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_command_writes_a_readable_mp4_with_the_frame_count_of_the_truth(generated):
    out, summary = generated
    truth = json.loads((out / "truth.json").read_text())
    assert summary["frames"] == truth["frames"] == 120
    assert summary["crossings"] == len(truth["crossings"])
    assert summary["totals"] == truth["totals"]
    assert summary["seconds"] > 0
    cap = cv2.VideoCapture(str(out / "video.mp4"))
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (270, 480, 3)
        n += 1
    cap.release()
    assert n == truth["frames"]


@pytest.mark.slow
def test_truth_follows_contract_c2(generated):
    out, _ = generated
    truth = json.loads((out / "truth.json").read_text())
    assert truth["format"] == "ioc-traffic-truth/1"
    assert (truth["seed"], truth["fps"], truth["width"], truth["height"]) == (5, 25.0, 480, 270)
    assert truth["duration_s"] == pytest.approx(truth["frames"] / truth["fps"])
    names = {line["name"] for line in truth["lines"]}
    tally: dict[str, dict[str, int]] = {
        d: dict.fromkeys(("motorbike", "car", "bus_truck", "bicycle"), 0) for d in ("in", "out")
    }
    for c in truth["crossings"]:
        assert c["line"] in names and 1 <= c["frame"] < truth["frames"]
        assert c["time_s"] == pytest.approx(c["frame"] / truth["fps"], abs=1e-3)
        tally[c["direction"]][c["class"]] += 1
    assert tally == truth["totals"]
    assert truth["conditions"][0]["from_s"] == 0
    assert truth["conditions"][-1]["to_s"] == pytest.approx(truth["duration_s"])
    assert {"lighting", "rain", "shake"} <= set(truth["conditions"][0])


@pytest.mark.slow
def test_camera_yaml_follows_c1_and_its_calibration_is_the_scenes_perspective(generated):
    out, _ = generated
    raw = yaml.safe_load((out / "camera.yaml").read_text())
    cfg = CameraYaml.model_validate(raw)
    try:
        from edge.config import load_config  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        pass
    else:
        load_config(out / "camera.yaml")
    truth = json.loads((out / "truth.json").read_text())
    assert [line.model_dump() for line in cfg.lines] == [
        {
            **line,
            "a": tuple(line["a"]),
            "b": tuple(line["b"]),
            "in_direction": tuple(line["in_direction"]),
        }
        for line in truth["lines"]
    ]
    assert (out / cfg.source.path).exists()
    w, h = 480, 270
    for x, y in [*cfg.roi, *(p for line in cfg.lines for p in (line.a, line.b))]:
        assert 0 <= x < w and 0 <= y < h
    # The four-point calibration maps each counting line onto the ground where the lanes are:
    # 16 m from the camera's foot, one lane (3.5 m) wide, across the direction of travel.
    to_ground = cv2.getPerspectiveTransform(
        np.array(cfg.calibration.image, np.float32), np.array(cfg.calibration.ground, np.float32)
    )
    layout = RoadLayout()
    for line in cfg.lines:
        pts = cv2.perspectiveTransform(np.array([[line.a, line.b]], np.float32), to_ground)[0]
        assert pts[:, 1] == pytest.approx([layout.line_y_m] * 2, abs=0.05)
        assert abs(pts[1, 0] - pts[0, 0]) == pytest.approx(layout.lane_width_m, abs=0.05)
        # "in" points down-screen, toward the camera: ground motion toward smaller Y.
        a = np.array(line.a)
        step = cv2.perspectiveTransform(
            np.array(
                [
                    [(a + b) / 2 for b in (np.array(line.b),)]
                    + [(a + np.array(line.b)) / 2 + 5 * np.array(line.in_direction)]
                ],
                np.float32,
            ),
            to_ground,
        )[0]
        assert step[1, 1] < step[0, 1]


def test_an_unknown_conditions_profile_is_refused_with_its_name(tmp_path):
    proc = subprocess.run(
        [
            str(IOC),
            "simulate",
            "video",
            "--out",
            str(tmp_path),
            "--minutes",
            "0.01",
            "--conditions",
            "foggy",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "--conditions" in proc.stderr and "foggy" in proc.stderr


@pytest.mark.slow
def test_the_frames_show_the_conditions_the_truth_lists():
    """Night frames are darker than dusk, dusk than day; shake moves the static scene."""
    spec = VideoSpec(seed=8, minutes=24.0 / 60, width=320, height=180, profile="mixed")
    scene = plan_scene(spec)
    frames: list[np.ndarray] = []
    render_frames(scene, on_frame=lambda f: frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)))
    means: dict[str, list[float]] = {"day": [], "dusk": [], "night": []}
    for seg in scene.segments:
        # The middle of each segment, away from the cross-fades.
        mid = round((seg.from_s + seg.to_s) / 2 * spec.fps)
        means[seg.lighting].append(float(frames[mid].mean()))
    assert min(means["day"]) > max(means["dusk"]) > 0
    assert min(means["dusk"]) > max(means["night"])
    # The facades at the top corners never move unless the camera does.
    corner = (slice(0, 30), slice(0, 40))
    shaken = next(s for s in scene.segments if s.shake and s.lighting == "day")
    calm = next(s for s in scene.segments if not s.shake and not s.rain and s.lighting == "day")

    def corner_motion(seg) -> float:
        a, b = round(seg.from_s * spec.fps) + 2, round(seg.to_s * spec.fps) - 2
        return float(
            np.mean(
                [cv2.absdiff(frames[f][corner], frames[f + 1][corner]).mean() for f in range(a, b)]
            )
        )

    assert corner_motion(shaken) > 2 * corner_motion(calm)
