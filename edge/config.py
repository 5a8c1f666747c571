"""Camera config ``camera.yaml`` (team contract C1); this module is its authoritative definition.

Operator-written, so it is read strictly: unknown keys, duplicate keys, degenerate geometry and
inconsistent intervals are refused with the key path and the YAML line, before a frame is read.
Everything past the keys of C1 is optional with a default, so the video generator's files and
hand-written ones load alike. Coordinates of ``roi``, ``lines``, ``zones`` and ``calibration``
are SOURCE-frame pixels (x right, y down), whatever ``processing.width`` is.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from devices.topics import SEGMENT_RE
from edge.errors import ConfigError

__all__ = [
    "CLASSES",
    "Calibration",
    "CameraConfig",
    "CameraIdentity",
    "ClassificationConfig",
    "CountingLine",
    "FileSource",
    "HealthConfig",
    "OutboxConfig",
    "ProcessingConfig",
    "SnapshotConfig",
    "StreamSource",
    "V4l2Source",
    "Zone",
    "load_config",
    "parse_config",
]

# The traffic_camera profile's metric suffixes (count_<class>_<in|out>), in its order.
CLASSES: tuple[str, ...] = ("motorbike", "car", "bus_truck", "bicycle")


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Coord = Annotated[float, Field(strict=False)]
Point = tuple[Coord, Coord]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_points(points: list[Point] | tuple[Point, ...]) -> None:
    for x, y in points:
        _finite(x)
        _finite(y)


class CameraIdentity(_Strict):
    """Who the node speaks as: the registry device (kind traffic_camera) and its tenant."""

    id: str
    tenant: str

    @field_validator("id", "tenant")
    @classmethod
    def _topic_segment(cls, value: str) -> str:
        # Both become MQTT topic segments; refusing here beats a TopicError at the first publish.
        if SEGMENT_RE.fullmatch(value) is None:
            raise ValueError("must be 1-64 characters of [a-z0-9_-], starting with a letter/digit")
        return value


class _Reconnect(_Strict):
    # Backoff when the source is lost: 1 s, 2 s, 4 s ... capped, so a camera that reboots is
    # back within a minute and a dead one costs one attempt a minute.
    reconnect_initial_s: float = Field(1.0, gt=0, le=600)
    reconnect_max_s: float = Field(60.0, gt=0, le=3600)
    # 0 = forever (a street camera); a positive budget makes `ioc edge run` give up and exit 1.
    reconnect_attempts: int = Field(0, ge=0)


class FileSource(_Reconnect):
    kind: Literal["file"]
    path: Path
    loop: bool = False
    # True: frames are paced at the file's own fps, as a camera would deliver them (a demo);
    # False: as fast as the pipeline goes (tests, evaluation), timestamps still from frame index.
    realtime: bool = True
    fps: float | None = Field(None, gt=0, le=1000, description="overrides the container's fps")


class StreamSource(_Reconnect):
    kind: Literal["stream"]
    url: str

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in {"rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp"}:
            raise ValueError("must be an rtsp://, http(s)://, rtmp://, udp:// or tcp:// URL")
        return value


class V4l2Source(_Reconnect):
    kind: Literal["v4l2"]
    device: str = "/dev/video0"
    width: int | None = Field(None, ge=16, le=7680)
    height: int | None = Field(None, ge=16, le=4320)

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not (value.startswith("/dev/") or value.isdigit()):
            raise ValueError("must be a device path like /dev/video0 or an index like '0'")
        return value


Source = Annotated[FileSource | StreamSource | V4l2Source, Field(discriminator="kind")]


class ProcessingConfig(_Strict):
    """Analysis resolution and background-subtraction tuning."""

    # Analysis width after downscale; blobs of a motorbike 40 m away are still ~6 px wide at 480.
    width: int = Field(640, ge=64, le=3840)
    subtractor: Literal["mog2", "knn"] = "mog2"
    # Frames of background memory; ~20 s at 25 fps forgets a parked car slowly enough to count
    # it when it leaves, and absorbs a lighting change within that time.
    history: int = Field(500, ge=10, le=100_000)
    # MOG2 varThreshold / KNN dist2Threshold; None = the subtractor's own default.
    threshold: float | None = Field(None, gt=0)
    shadows: bool = True
    # Give shadow-marked pixels back to the vehicle when they lost the road's grain (a grey car
    # body as dark as a shadow; edge/detect.py Detector.reclaim). ~1 ms/frame at 640 px.
    shadow_texture: bool = False
    # In the dark, take the road lit by an oncoming vehicle's headlights out of the foreground
    # and join its lamps to its body (edge/lamps.py): tracked, a pool runs ahead of its vehicle
    # and joins riders side by side.
    headlights: bool = True
    # Undo camera shake (phase correlation against the settled view) before subtraction.
    stabilise: bool = True
    # Blobs smaller than this (analysis px, after morphology) are noise: rain, leaves, sensor.
    min_blob_px: int = Field(30, ge=1)
    # Seconds a lost track is kept (coasting on its velocity) before it is dropped.
    max_coast_s: float = Field(0.6, gt=0, le=10)
    fps: float | None = Field(None, gt=0, le=1000, description="when the source does not say")


class CountingLine(_Strict):
    name: str = Field(min_length=1, max_length=64)
    a: Point
    b: Point
    in_direction: Point

    @model_validator(mode="after")
    def _geometry(self) -> CountingLine:
        _check_points([self.a, self.b, self.in_direction])
        if math.dist(self.a, self.b) < 1.0:
            raise ValueError("a and b must be at least 1 px apart")
        if math.hypot(*self.in_direction) == 0:
            raise ValueError("in_direction must not be [0, 0]")
        return self


def _check_polygon(points: list[Point]) -> list[Point]:
    _check_points(points)
    if len(points) < 3:
        raise ValueError("a polygon needs at least 3 points")
    area = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        area += x1 * y2 - x2 * y1
    if abs(area) / 2 < 1.0:
        raise ValueError("polygon has (almost) no area")
    return points


class Zone(_Strict):
    """Occupancy and queue area, e.g. the approach behind a stop line."""

    name: str = Field(min_length=1, max_length=64)
    polygon: list[Point]
    # Where the queue forms (e.g. the middle of the stop line); queue length is measured on
    # the ground from here to the farthest stationary vehicle. None: the zone's far end.
    head: Point | None = None

    @field_validator("polygon")
    @classmethod
    def _polygon(cls, value: list[Point]) -> list[Point]:
        return _check_polygon(value)


class Calibration(_Strict):
    """Four image points and their ground-plane positions in metres: the homography."""

    image: list[Point] = Field(min_length=4, max_length=4)
    ground: list[Point] = Field(min_length=4, max_length=4)

    @model_validator(mode="after")
    def _non_degenerate(self) -> Calibration:
        _check_points(self.image)
        _check_points(self.ground)
        for label, pts in (("image", self.image), ("ground", self.ground)):
            arr = np.asarray(pts, dtype=float)
            for i in range(4):
                tri = np.delete(arr, i, axis=0)
                u, w = tri[1] - tri[0], tri[2] - tri[0]
                area = abs(u[0] * w[1] - u[1] * w[0]) / 2
                if area < 1e-6:
                    raise ValueError(f"{label} points: three of the four are collinear")
        return self


class SnapshotConfig(_Strict):
    """Event snapshots: off unless enabled per camera (personal data, Decree 13/2023)."""

    enabled: bool = False
    width: int = Field(320, ge=64, le=1280)
    jpeg_quality: int = Field(70, ge=10, le=95)
    # At most one snapshot per this many seconds, whatever the event rate.
    min_interval_s: float = Field(60.0, ge=1)


class HealthConfig(_Strict):
    """Camera-health thresholds; the defaults suit a daytime street scene."""

    # Mean luma (0-255) below which the picture is black (lens cap, dead sensor, cut cable).
    blackout_luma: float = Field(12.0, ge=0, le=255)
    # Mean luma below which counts get unreliable (dusk without street lights).
    low_light_luma: float = Field(45.0, ge=0, le=255)
    # Seconds of identical frames before "frozen" (encoder hang, a still image injected).
    frozen_s: float = Field(5.0, gt=0)
    # Sharpness (variance of the Laplacian) relative to the learned reference below which
    # the image is called blurred (defocus, a wet or dirty lens).
    blur_ratio: float = Field(0.35, gt=0, lt=1)
    # Share of edge pixels that moved compared with the reference: the camera was turned.
    scene_change: float = Field(0.55, gt=0, lt=1)
    # A condition must persist this long to raise an event, and be gone this long to clear.
    hold_s: float = Field(3.0, ge=0)


class ClassificationConfig(_Strict):
    """Ground-plane size limits (metres) between classes; see docs/edge.md."""

    # Width is what separates a two-wheeler (0.7 m with its rider) from a car (1.8 m) from a
    # bus or truck (2.5 m) in a view along the road; apparent length is inflated by height
    # (a 1.7 m rider seen from 27 degrees "lengthens" a motorbike to a car's 4 m), so it only
    # confirms a bus or truck.
    car_min_width_m: float = Field(1.45, gt=0)
    # Longer than this (and short of a bus) a car-wide box is two-wheelers close together seen
    # as one blob. A 4.5 m car measures 5.5-7 m from 11 m up (its height adds to its length).
    car_max_length_m: float = Field(8.5, gt=0)
    # A car's roof covers most of its box's width; a rider over a headlight pool, or two riders
    # side by side, cover much less of it in the box's top rows (edge/detect.py, top_fill).
    car_min_top_fill: float = Field(0.55, ge=0, le=1)
    # Below these a "vehicle" is noise (rain streaks, a headlight glint, a leaf shadow): its
    # crossing is not counted. Apparent sizes, as measured (see docs/edge.md).
    min_width_m: float = Field(0.3, ge=0)
    min_length_m: float = Field(1.4, ge=0)
    max_speed_kmh: float = Field(150.0, gt=0)
    bus_truck_min_width_m: float = Field(2.2, gt=0)
    # Apparent length again: a bus or truck measures 15 m and more from 11 m up; two cars or a
    # car and motorbikes merged measure 8-12 m.
    bus_truck_min_length_m: float = Field(12.0, gt=0)
    # Roof widths: the width covered in the box's top rows (top fill x width, metres). A bus's
    # roof is 2.4-2.5 m; a car's 1.5-1.8 m, also when the pool of its headlights at night
    # stretches its box as long and as wide at the bottom as a bus's; a rider's, or two riders'
    # side by side, under 1.1 m.
    bus_truck_min_roof_m: float = Field(2.0, ge=0)
    # ... or this, the roof at the ground scale of its own image rows (edge/measure.py
    # roof_row_m): perspective shrinks the roof of a long bus in top fill x width, not here.
    # Buses measured 3.4-7 m, cars behind their headlight pools 2.2-3.3 m.
    bus_truck_min_roof_row_m: float = Field(3.4, ge=0)
    # With that roof a shorter box is a bus too: buses seen 9.7-11.4 m long (their far end
    # lost) had roofs of 3.5-5.2 m at their rows; cars and merged vehicles of that length
    # 2.8-3.3 m. Cars with a roof over 3.2 m at their rows measured 8.7 m long at most.
    bus_truck_roof_row_min_length_m: float = Field(9.5, gt=0)
    # A box as long as a bus (bus_truck_min_length_m) needs less roof at its rows: a bus
    # going away at dusk or night shows a dark roof and rear, and measured 2.5-3.0 m (top fill
    # 0.44-0.70), which read as a motorbike or a car. Cars are never that long; of the riders
    # grouped that long in one blob, one of two measured over 2.4 m (2.9 m, 51 km/h).
    bus_truck_long_min_roof_row_m: float = Field(2.4, ge=0)
    car_min_roof_m: float = Field(1.3, ge=0)
    # A car-wide box with a car's roof is a car up to this apparent length (its headlight pool
    # ahead of it lengthens it); without a car's roof, car_max_length_m applies.
    car_with_roof_max_length_m: float = Field(16.0, gt=0)
    # A car-wide box whose roof the subtractor lost (a grey roof in rain, taken for background
    # or shadow) is still a car when it measures a car's apparent length: 4-4.9 m cars measure
    # 5.5-6.5 m here, riders side by side under 5 m, a rider over its headlight pool 7 m and
    # more. An empty window (min >= max) turns this off.
    car_roofless_min_length_m: float = Field(5.0, ge=0)
    car_roofless_max_length_m: float = Field(6.5, ge=0)
    # ... only in a scene at least this bright (mean grey level of the frame): at dusk and at
    # night a rider over the pool of its own headlight measures a car's length without a roof
    # too (simulator: day 92-119, dusk 64-68, night 42-48). 0 keeps the rule at all hours.
    car_roofless_min_luma: float = Field(80.0, ge=0, le=255)
    # Two-wheelers that never went this fast over the last ~2.5 s of their track, with no
    # vehicle close ahead, are bicycles: a bicycle and a motorbike have almost the same
    # footprint; speed is what separates them in a city (cyclists 12-19 km/h, urban motorbikes
    # ~30 km/h unless held up by the vehicle in front).
    bicycle_max_speed_kmh: float = Field(19.0, ge=0)
    # In the dark a two-wheeler's lamps decide (edge/lamps.py): one with a lamp in its box in
    # most dark frames is a motorbike, however slow; one never lit, as short as one rider and
    # slower than this at the line, is a bicycle even behind another vehicle. Simulator (seeds 99
    # and 123): 16 of the 21 dark two-wheelers never lit were bicycles; 5 of 482 motorbikes.
    # At 25 km/h, pieces of cars at dusk (21-23 km/h, no lamp in the piece) were bicycles too.
    bicycle_unlit_max_speed_kmh: float = Field(20.0, ge=0)


class OutboxConfig(_Strict):
    """Store-and-forward queue (SQLite) for messages the broker has not acknowledged."""

    path: Path | None = None  # default: <IOC_VAR_DIR>/edge/<camera id>.outbox.sqlite
    max_bytes: int = Field(64 * 1024 * 1024, ge=64 * 1024)


class CameraConfig(_Strict):
    camera: CameraIdentity
    source: Source
    processing: ProcessingConfig = ProcessingConfig()
    roi: list[Point] | None = None
    lines: list[CountingLine] = Field(min_length=1)
    zones: list[Zone] = Field(default_factory=list)
    calibration: Calibration
    intervals_s: list[int] = Field(default_factory=lambda: [15, 60], min_length=1)
    # The interval whose aggregates go on the telemetry channel (the profile's metrics); the
    # others go as `traffic_interval` events, so no two values share a (device, metric, time).
    telemetry_interval_s: int | None = None
    snapshots: SnapshotConfig = SnapshotConfig()
    health: HealthConfig = HealthConfig()
    classification: ClassificationConfig = ClassificationConfig()
    outbox: OutboxConfig = OutboxConfig()
    node_health_s: float = Field(60.0, ge=1, description="node_health event period")

    # Folder of the YAML file, for relative source paths; set by load_config.
    base_dir: Path | None = Field(None, exclude=True)

    @field_validator("roi")
    @classmethod
    def _roi(cls, value: list[Point] | None) -> list[Point] | None:
        return None if value is None else _check_polygon(value)

    @field_validator("intervals_s")
    @classmethod
    def _intervals(cls, value: list[int]) -> list[int]:
        if any(v < 1 or v > 86_400 for v in value):
            raise ValueError("each interval must be 1..86400 s")
        if len(set(value)) != len(value):
            raise ValueError("intervals must be distinct")
        return sorted(value)

    @model_validator(mode="after")
    def _consistent(self) -> CameraConfig:
        names = [line.name for line in self.lines]
        if len(set(names)) != len(names):
            raise ValueError(f"lines: names must be unique, got {names}")
        zones = [zone.name for zone in self.zones]
        if len(set(zones)) != len(zones):
            raise ValueError(f"zones: names must be unique, got {zones}")
        if self.telemetry_interval_s is not None and self.telemetry_interval_s not in (
            self.intervals_s
        ):
            raise ValueError(
                f"telemetry_interval_s {self.telemetry_interval_s} is not one of intervals_s "
                f"{self.intervals_s}"
            )
        big = self.classification
        if big.bus_truck_min_width_m <= big.car_min_width_m:
            raise ValueError("classification: bus_truck_min_width_m must exceed car_min_width_m")
        return self

    @property
    def telemetry_interval(self) -> int:
        """The profile's interval (60 s) when configured, else the longest one."""
        if self.telemetry_interval_s is not None:
            return self.telemetry_interval_s
        return 60 if 60 in self.intervals_s else self.intervals_s[-1]

    def source_path(self) -> Path:
        """Absolute path of a file source (relative ones are relative to the YAML's folder)."""
        if not isinstance(self.source, FileSource):
            raise TypeError("source is not a file")
        path = self.source.path
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        return path


# --- loading --------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def _line_index(node: yaml.Node | None, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Key path -> 1-based YAML line, so a validation error can point at the line."""
    lines: dict[tuple[Any, ...], int] = {}
    if node is None:
        return lines
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines.update(_line_index(value_node, (*path, key)))
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_index(item, (*path, i)))
    return lines


def _describe(err: Any, lines: dict[tuple[Any, ...], int]) -> str:
    loc = tuple(err["loc"])
    if len(loc) > 1 and loc[0] == "source" and loc[1] in ("file", "stream", "v4l2"):
        loc = (loc[0], *loc[2:])  # the discriminator tag pydantic inserts: source.file.path
    key = ".".join(str(p) for p in loc) or "(top level)"
    line = None
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            line = lines[loc[:n]]
            break
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    return f"{key}{f' (line {line})' if line else ''}: {msg}"


def parse_config(text: str, *, path: Path | None = None) -> CameraConfig:
    """Read and validate config text; :class:`ConfigError` lists every problem with its key."""
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # SafeLoader subclass: no arbitrary objects
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark else ""
        raise ConfigError(path, [f"{where}{exc.problem or exc}"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(path, [f"invalid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise ConfigError(path, ["the file must hold a mapping (camera:, source:, lines: ...)"])
    try:
        config = CameraConfig.model_validate(raw)
    except ValidationError as exc:
        lines = _line_index(node)
        raise ConfigError(path, [_describe(err, lines) for err in exc.errors()]) from exc
    return config.model_copy(update={"base_dir": path.parent.resolve() if path else None})


def load_config(path: Path) -> CameraConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [f"cannot read: {exc.strerror or exc}"]) from exc
    return parse_config(text, path=path)
