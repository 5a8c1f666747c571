"""``ioc edge evaluate``: run the pipeline over a video and compare its counts with the truth.

Totals are compared per direction, per class and per (direction, class). Each counted crossing
is also matched to a true one on the same line and direction within ``MATCH_S`` seconds, so a
total that is right by luck (a miss cancelled by a double count) still shows up as unmatched.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2

from edge.config import CLASSES, CameraConfig
from edge.count import Crossing
from edge.pipeline import Pipeline
from edge.source import FileFrames
from edge.truth import Truth

DIRECTIONS = ("in", "out")
# A counted and a true crossing this close in time (same line, same direction) are one vehicle.
MATCH_S = 1.0


def _table(items: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    tally = Tally(items)
    return {d: {c: tally[(d, c)] for c in CLASSES} for d in DIRECTIONS}


def _error_pct(counted: int, truth: int) -> float | None:
    if truth == 0:
        return None if counted == 0 else 100.0
    return round(abs(counted - truth) * 100.0 / truth, 2)


def _matched(
    ours: list[Crossing], truth: Truth, lines: set[str]
) -> tuple[int, int, dict[str, dict[str, int]], dict[str, int], int]:
    """Greedy in time order: (matched, of which with the right class, confusion, false counts
    by class, false counts on a line and direction that no true vehicle took).

    ``confusion[true class][counted class]`` (plus ``missed``) says where each true vehicle
    went, which the totals cannot: a car missed and a motorbike read as a car cancel there.
    """
    pool: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for c in truth.crossings:
        if c.line in lines:
            pool.setdefault((c.line, c.direction), []).append((c.time_s, c.cls))
    taken = set(pool)
    confusion = {t: dict.fromkeys((*CLASSES, "missed"), 0) for t in CLASSES}
    false_by_class = dict.fromkeys(CLASSES, 0)
    wrong_way = 0
    matched = right = 0
    for ours_c in sorted(ours, key=lambda c: c.time):
        candidates = pool.get((ours_c.line, ours_c.direction), [])
        best = None
        for i, (t, _) in enumerate(candidates):
            if abs(t - ours_c.time) <= MATCH_S and (
                best is None or abs(t - ours_c.time) < abs(candidates[best][0] - ours_c.time)
            ):
                best = i
        if best is not None:
            _, cls = candidates.pop(best)
            matched += 1
            right += cls == ours_c.cls
            confusion[cls][ours_c.cls] += 1
        else:
            false_by_class[ours_c.cls] += 1
            wrong_way += (ours_c.line, ours_c.direction) not in taken
    for left in pool.values():
        for _, cls in left:
            confusion[cls]["missed"] += 1
    return matched, right, confusion, false_by_class, wrong_way


def evaluate(video: Path, config: CameraConfig, truth: Truth) -> dict[str, Any]:
    cv2.setNumThreads(1)
    source = FileFrames(video, realtime=False, fps=truth.fps, start=0.0)
    pipeline = Pipeline(config)
    crossings: list[Crossing] = []
    started = time.perf_counter()
    frames = 0
    t = 0.0
    try:
        while (item := source.read()) is not None:
            t = item.time
            crossings.extend(pipeline.process(item.frame, t).crossings)
            frames += 1
    finally:
        source.close()
    crossings.extend(pipeline.finish(t))
    wall = time.perf_counter() - started
    result = score(crossings, config, truth)
    return {
        "video": str(video),
        "frames": frames,
        "video_s": round(frames / truth.fps, 2),
        "fps_processed": round(frames / wall, 1) if wall > 0 else None,
        **result,
        # Side changes not counted, by reason (edge/count.py): what the filters threw away.
        "rejected": dict(pipeline.counter.reasons) if frames else {},
    }


def score(crossings: list[Crossing], config: CameraConfig, truth: Truth) -> dict[str, Any]:
    """Counted crossings against the truth (the part of the evaluation after the video)."""
    lines = {line.name for line in config.lines}
    true_items = [(c.direction, c.cls) for c in truth.crossings if c.line in lines]
    counted = _table([(c.direction, c.cls) for c in crossings])
    expected = _table(true_items)
    total_c = sum(sum(v.values()) for v in counted.values())
    total_t = sum(sum(v.values()) for v in expected.values())
    matched, right_class, confusion, false_by_class, wrong_way = _matched(crossings, truth, lines)
    per_direction = {
        d: _error_pct(sum(counted[d].values()), sum(expected[d].values())) for d in DIRECTIONS
    }
    per_class = {
        c: _error_pct(
            sum(counted[d][c] for d in DIRECTIONS), sum(expected[d][c] for d in DIRECTIONS)
        )
        for c in CLASSES
    }
    per_direction_class = {
        d: {c: _error_pct(counted[d][c], expected[d][c]) for c in CLASSES} for d in DIRECTIONS
    }
    by_line = Tally(f"{c.line}_{c.direction}" for c in crossings)
    truth_by_line = Tally(f"{c.line}_{c.direction}" for c in truth.crossings if c.line in lines)
    return {
        "counted": counted,
        "truth": expected,
        "counted_total": total_c,
        "truth_total": total_t,
        "abs_error_pct": _error_pct(total_c, total_t),
        "per_direction_error_pct": per_direction,
        "per_class_error_pct": per_class,
        "per_direction_class_error_pct": per_direction_class,
        "by_line": {"counted": dict(by_line), "truth": dict(truth_by_line)},
        "matched_pct": round(100.0 * matched / total_t, 2) if total_t else None,
        "class_accuracy_pct": round(100.0 * right_class / matched, 2) if matched else None,
        "false_pct": round(100.0 * (total_c - matched) / total_t, 2) if total_t else None,
        # Where each true vehicle went (matched within MATCH_S on its line and direction).
        "confusion": confusion,
        "false_by_class": false_by_class,
        "false_wrong_direction": wrong_way,
    }
