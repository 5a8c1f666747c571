"""camera.yaml (contract C1): the contract's own example loads; mistakes name the key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import FileSource, StreamSource, V4l2Source, load_config, parse_config
from edge.errors import ConfigError

C1_EXAMPLE = """\
camera:
  id: cam-sim-0001
  tenant: sxd
source:
  kind: file
  path: video.mp4
  loop: false
processing:
  width: 640
roi: [[0, 0], [1280, 0], [1280, 720], [0, 720]]
lines:
  - name: lane-1
    a: [100, 500]
    b: [600, 500]
    in_direction: [0, 1]
zones:
  - {name: approach-in, polygon: [[100, 300], [600, 300], [600, 500], [100, 500]]}
calibration:
  image: [[100, 300], [600, 300], [700, 700], [0, 700]]
  ground: [[0, 0], [7, 0], [7, 30], [0, 30]]
intervals_s: [15, 60]
snapshots: {enabled: false}
"""


def test_the_contract_example_loads_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "camera.yaml"
    path.write_text(C1_EXAMPLE, encoding="utf-8")
    cfg = load_config(path)
    assert cfg.camera.id == "cam-sim-0001"
    assert isinstance(cfg.source, FileSource)
    assert cfg.source_path() == tmp_path / "video.mp4"  # relative to the YAML's folder
    assert cfg.intervals_s == [15, 60]
    assert cfg.telemetry_interval == 60  # the traffic_camera profile's interval
    assert cfg.snapshots.enabled is False
    assert cfg.processing.subtractor == "mog2"


def test_snapshots_are_off_when_not_mentioned() -> None:
    text = C1_EXAMPLE.replace("snapshots: {enabled: false}\n", "")
    assert parse_config(text).snapshots.enabled is False


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return str(caught.value)


def test_unknown_key_is_named_with_its_line() -> None:
    message = problems(C1_EXAMPLE.replace("  loop: false", "  lop: false"))
    assert "source.lop (line 7): unknown key" in message


def test_duplicate_key_is_an_error_with_its_line() -> None:
    message = problems(C1_EXAMPLE + "intervals_s: [60]\n")
    assert "duplicate key 'intervals_s'" in message
    assert "line 23" in message


def test_geometry_mistakes_are_named() -> None:
    message = problems(C1_EXAMPLE.replace("b: [600, 500]", "b: [100, 500]"))
    assert "lines.0" in message and "at least 1 px apart" in message
    message = problems(C1_EXAMPLE.replace("in_direction: [0, 1]", "in_direction: [0, 0]"))
    assert "in_direction must not be [0, 0]" in message
    collinear = C1_EXAMPLE.replace("[700, 700], [0, 700]]", "[700, 300], [0, 700]]")
    assert "calibration" in problems(collinear) and "collinear" in problems(collinear)


def test_bad_values_are_named() -> None:
    assert "camera.id" in problems(C1_EXAMPLE.replace("cam-sim-0001", "Cam 1"))
    assert "intervals_s" in problems(C1_EXAMPLE.replace("[15, 60]", "[15, 15]"))
    no_telemetry = C1_EXAMPLE + "telemetry_interval_s: 30\n"
    assert "telemetry_interval_s 30 is not one of intervals_s" in problems(no_telemetry)
    assert "processing.width" in problems(C1_EXAMPLE.replace("width: 640", "width: 10"))
    assert "lines" in problems(C1_EXAMPLE.split("lines:")[0] + "calibration:\n  image: []\n")


def test_stream_and_v4l2_sources() -> None:
    stream = C1_EXAMPLE.replace(
        "  kind: file\n  path: video.mp4\n  loop: false", "  kind: stream\n  url: rtsp://cam/1"
    )
    assert isinstance(parse_config(stream).source, StreamSource)
    bad = stream.replace("rtsp://cam/1", "ftp://cam/1")
    assert "source.url" in problems(bad)
    v4l2 = C1_EXAMPLE.replace(
        "  kind: file\n  path: video.mp4\n  loop: false", "  kind: v4l2\n  device: /dev/video2"
    )
    source = parse_config(v4l2).source
    assert isinstance(source, V4l2Source) and source.device == "/dev/video2"
    assert "source.path" in problems(v4l2.replace("device: /dev/video2", "path: x.mp4"))


def test_not_a_mapping_and_not_yaml() -> None:
    assert "must hold a mapping" in problems("- a\n- b\n")
    assert "line 2" in problems("camera: {id: x\nsource: [\n")
