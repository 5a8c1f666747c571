"""A clip with a known number of crossings gives that number, per direction and class."""

from __future__ import annotations

import json
from collections import Counter

import yaml
from typer.testing import CliRunner

from edge.cli import app
from edge.config import CLASSES, load_config, parse_config
from edge.evaluate import evaluate
from edge.truth import load_truth
from tests.edge.conftest import Clip


def test_every_crossing_of_the_clip_is_counted_with_direction_and_class(clip: Clip) -> None:
    result = evaluate(clip.video, load_config(clip.config), load_truth(clip.truth))
    drawn = clip.totals()
    assert sum(drawn.values()) >= 40, "the clip must exercise the counter"
    assert {d for d, _ in drawn} == {"in", "out"}
    expected = {d: {c: drawn[(d, c)] for c in CLASSES} for d in ("in", "out")}
    assert result["truth"] == expected
    assert result["counted"] == expected
    assert result["abs_error_pct"] == 0.0
    assert result["matched_pct"] == 100.0  # each count is a real vehicle, at the right time


def test_reversing_in_direction_swaps_in_and_out(clip: Clip) -> None:
    raw = json.loads(json.dumps(clip.raw_config))
    raw["source"]["path"] = str(clip.video)
    raw["lines"][0]["in_direction"] = [0, -1]
    result = evaluate(clip.video, parse_config(yaml.safe_dump(raw)), load_truth(clip.truth))
    drawn = Counter(c["direction"] for c in clip.crossings)
    counted = {d: sum(result["counted"][d].values()) for d in ("in", "out")}
    assert counted == {"in": drawn["out"], "out": drawn["in"]}


def test_lines_count_only_their_own_lane(clip: Clip) -> None:
    """Two half-lines (one per carriageway) split the counts by lane."""
    raw = json.loads(json.dumps(clip.raw_config))
    raw["source"]["path"] = str(clip.video)
    y = raw["lines"][0]["a"][1]
    raw["lines"] = [
        {"name": "in-lanes", "a": [0, y], "b": [320, y], "in_direction": [0, 1]},
        {"name": "out-lanes", "a": [320, y], "b": [640, y], "in_direction": [0, 1]},
    ]
    result = evaluate(clip.video, parse_config(yaml.safe_dump(raw)), load_truth(clip.truth))
    drawn = Counter(c["direction"] for c in clip.crossings)
    assert result["by_line"]["counted"] == {
        "in-lanes_in": drawn["in"],
        "out-lanes_out": drawn["out"],
    }


def test_evaluate_command_prints_one_json_object_last(clip: Clip) -> None:
    out = CliRunner().invoke(
        app,
        ["evaluate", "--video", str(clip.video), "--config", str(clip.config),
         "--truth", str(clip.truth), "--json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    result = json.loads(out.output.strip().splitlines()[-1])
    for key in (
        "counted",
        "truth",
        "abs_error_pct",
        "per_direction_error_pct",
        "per_class_error_pct",
    ):
        assert key in result
    assert result["abs_error_pct"] == 0.0


def test_evaluate_names_a_broken_truth_file(clip: Clip, tmp_path) -> None:
    bad = tmp_path / "truth.json"
    truth = json.loads(clip.truth.read_text())
    truth["crossings"][0]["class"] = "tractor"
    bad.write_text(json.dumps(truth))
    out = CliRunner().invoke(
        app,
        ["evaluate", "--video", str(clip.video), "--config", str(clip.config), "--truth", str(bad)],
    )
    assert out.exit_code == 1
    assert "crossings.0.class" in out.output
