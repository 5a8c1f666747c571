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
    assert sum(drawn.values()) >= 30, "the clip must exercise the counter"
    assert {d for d, _ in drawn} == {"in", "out"}
    expected = {d: {c: drawn[(d, c)] for c in CLASSES} for d in ("in", "out")}
    assert result["truth"] == expected
    assert result["counted"] == expected
    assert result["abs_error_pct"] == 0.0
    assert result["matched_pct"] == 100.0  # each count is a real vehicle, at the right time
    # The confusion says where each true vehicle went: all on the diagonal, none missed.
    for cls in CLASSES:
        row = result["confusion"][cls]
        assert row[cls] == drawn[("in", cls)] + drawn[("out", cls)]
        assert sum(row.values()) == row[cls]
    assert result["false_by_class"] == dict.fromkeys(CLASSES, 0)
    assert result["false_wrong_direction"] == 0


def test_confusion_names_missed_misclassified_and_wrong_way_counts(clip: Clip) -> None:
    """Scored from hand-made counts against one direction's true crossings: one true vehicle
    missed, one read as another class, one counted against the only direction taken."""
    from edge.count import Crossing
    from edge.evaluate import score

    full = load_truth(clip.truth)
    direction = full.crossings[0].direction
    truth = full.model_copy(
        update={"crossings": [c for c in full.crossings if c.direction == direction]}
    )
    first, second, *rest = truth.crossings
    other = next(c for c in CLASSES if c != second.cls)
    flipped = "out" if direction == "in" else "in"
    ours = [
        Crossing(second.time_s, second.line, direction, other, None, 1),
        *(Crossing(c.time_s, c.line, direction, c.cls, None, 2 + i) for i, c in enumerate(rest)),
        Crossing(first.time_s, first.line, flipped, first.cls, None, 99),
    ]
    result = score(ours, load_config(clip.config), truth)
    assert result["confusion"][second.cls][other] == 1
    assert result["confusion"][first.cls]["missed"] == 1
    assert sum(row["missed"] for row in result["confusion"].values()) == 1
    assert result["false_by_class"] == {c: int(c == first.cls) for c in CLASSES}
    assert result["false_wrong_direction"] == 1


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
