"""Tune the edge node fast: cache the background subtractor's output once, replay the rest.

The background model (MOG2) is two thirds of the pipeline's cost and does not change while
the blob, tracking, counting and class rules are tuned, so its raw output (255 foreground,
127 shadow, 0 background) is stored once per video (PNG per frame, ~2 % of the raw size) and
replayed through ``Pipeline.analyse`` — the same code as ``ioc edge evaluate``, which gives the
same counts. Also dumps crops of the frame and mask around true crossings that were missed or
misread, to see what the detector saw.

    python scripts/edge_replay.py cache DIR          # DIR holds video.mp4, camera.yaml, truth.json
    python scripts/edge_replay.py replay DIR [--json]
    python scripts/edge_replay.py crops DIR --cls car --kind missed --n 12 --out /tmp/crops
    python scripts/edge_replay.py lamps DIR --from-s 420 --to-s 440   # headlight filter cost

Not part of the node; a development tool.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.config import CameraConfig, load_config
from edge.count import Crossing
from edge.evaluate import MATCH_S, score
from edge.pipeline import Pipeline
from edge.source import FileFrames
from edge.truth import Truth, load_truth


def _load(d: Path) -> tuple[CameraConfig, Truth]:
    return load_config(d / "camera.yaml"), load_truth(d / "truth.json")


def cache(d: Path, name: str = "raw.bin", *, texture: bool = True) -> None:
    cv2.setNumThreads(1)
    config, truth = _load(d)
    if not texture:  # the subtractor's own shadow marks, as before the texture test
        processing = config.processing.model_copy(update={"shadow_texture": False})
        config = config.model_copy(update={"processing": processing})
    pipeline = Pipeline(config)
    source = FileFrames(d / "video.mp4", realtime=False, fps=truth.fps, start=0.0)
    n = 0
    started = time.perf_counter()
    background = None
    # The subtractor's own output, before the pipeline fills bodies into it in the dark
    # (HeadlightFilter.fill_rears): the replay fills them again.
    subtract = pipeline.detector.subtract
    outputs: list[np.ndarray] = []

    def keep(frame: np.ndarray, learning_rate: float = -1.0) -> np.ndarray:
        raw = subtract(frame, learning_rate)
        outputs.append(raw.copy())
        return raw

    pipeline.detector.subtract = keep  # type: ignore[method-assign]
    with (d / name).open("wb") as out, (d / f"{name}.bg").open("wb") as bg_out:
        while (item := source.read()) is not None:
            pipeline.process(item.frame, item.time)
            raw = outputs.pop()
            ok, png = cv2.imencode(".png", raw, [cv2.IMWRITE_PNG_COMPRESSION, 1])
            assert ok
            out.write(struct.pack("<dI", item.time, len(png)))
            out.write(png.tobytes())
            if pipeline.detector.background is not background:  # refreshed on this frame
                background = pipeline.detector.background
                ok, png = cv2.imencode(".png", background, [cv2.IMWRITE_PNG_COMPRESSION, 1])
                bg_out.write(struct.pack("<dI", float(n), len(png)))
                bg_out.write(png.tobytes())
            n += 1
    source.close()
    print(f"{n} frames cached in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def _frames(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    with path.open("rb") as f:
        while head := f.read(12):
            t, size = struct.unpack("<dI", head)
            raw = cv2.imdecode(np.frombuffer(f.read(size), np.uint8), cv2.IMREAD_GRAYSCALE)
            yield t, raw


def replay(d: Path, config: CameraConfig | None = None, name: str = "raw.bin") -> dict[str, Any]:
    cv2.setNumThreads(1)
    cfg, truth = _load(d)
    config = config or cfg
    pipeline = Pipeline(config)
    crossings: list[Crossing] = []
    t = 0.0
    # Every resolved side change: (pending, crossing or None, reason counts before).
    log: list[tuple[Any, Any]] = []
    counter_resolve = None

    def spy(p: Any) -> Any:
        before = dict(pipeline.counter.reasons)
        out = counter_resolve(p)  # type: ignore[misc]
        after = pipeline.counter.reasons
        why = next((k for k in after if after[k] != before.get(k, 0)), None)
        sizes = p.track.sizes
        log.append((p, out if out is not None else why, len(sizes), p.track.partial))
        return out

    started = time.perf_counter()
    # The frames too, at analysis size: the class rules read the scene's brightness.
    video = FileFrames(d / "video.mp4", realtime=False, fps=truth.fps, start=0.0)
    first = True
    # The background model's grey image where it was refreshed (frame number -> image): the
    # headlight-pool test reads it (edge/lamps.py).
    bg_path = d / f"{name}.bg"
    backgrounds = {round(n): img for n, img in _frames(bg_path)} if bg_path.exists() else {}
    for frame_no, (t, raw) in enumerate(_frames(d / name)):
        if first:
            first = False
            # Geometry from the source size (the cache holds analysis-size masks).
            pipeline._setup(np.zeros((truth.height, truth.width, 3), np.uint8))
            counter_resolve = pipeline.counter._resolve
            pipeline.counter._resolve = spy  # type: ignore[method-assign]
        if frame_no in backgrounds:
            pipeline.detector.background = backgrounds[frame_no]
        item = video.read()
        assert item is not None, "the video is shorter than its cached masks"
        small = cv2.resize(item.frame, (raw.shape[1], raw.shape[0]), interpolation=cv2.INTER_LINEAR)
        fg = pipeline.detector.select(raw)
        crossings.extend(pipeline.analyse(small, fg, t, health=False).crossings)
    video.close()
    crossings.extend(pipeline.finish(t))
    result = score(crossings, config, truth)
    result["rejected"] = dict(pipeline.counter.reasons)
    result["replay_s"] = round(time.perf_counter() - started, 1)
    result["_crossings"] = crossings
    result["_log"] = log
    result["_h"] = pipeline.homography
    return result


def summary(r: dict[str, Any]) -> str:
    d = r["per_direction_error_pct"]
    c = r["per_class_error_pct"]
    sign = {}
    for cls in c:
        got = sum(r["counted"][x][cls] for x in ("in", "out"))
        want = sum(r["truth"][x][cls] for x in ("in", "out"))
        sign[cls] = f"{100.0 * (got - want) / max(want, 1):+.1f}"
    din = {
        x: f"{100.0 * (sum(r['counted'][x].values()) - sum(r['truth'][x].values())) / max(sum(r['truth'][x].values()), 1):+.1f}"  # noqa: E501
        for x in d
    }
    return (
        f"in {din['in']} out {din['out']} | "
        + " ".join(f"{k} {v}" for k, v in sign.items())
        + f" | matched {r['matched_pct']} acc {r['class_accuracy_pct']} false {r['false_pct']}"
        + f" wrongdir {r['false_wrong_direction']}"
    )


def assign(ours: list[Crossing], truth: Truth) -> list[tuple[Any, str]]:
    """Each true crossing and what it was counted as (a class, or ``missed``), matched as
    ``ioc edge evaluate`` does (same line and direction, nearest within MATCH_S)."""
    ours = sorted(ours, key=lambda c: c.time)
    used: set[int] = set()
    out = []
    for c in truth.crossings:
        best = None
        for i, o in enumerate(ours):
            if i in used or o.line != c.line or o.direction != c.direction:
                continue
            if abs(o.time - c.time_s) <= MATCH_S and (
                best is None or abs(o.time - c.time_s) < abs(ours[best].time - c.time_s)
            ):
                best = i
        if best is not None:
            used.add(best)
        out.append((c, "missed" if best is None else ours[best].cls))
    return out


def by_condition(r: dict[str, Any], truth: Truth) -> None:
    """Misses and misreads of cars and buses per lighting segment."""
    for seg in truth.conditions:
        label = f"{seg.from_s:5.0f}-{seg.to_s:4.0f} {seg.lighting}{' rain' if seg.rain else ''}{' shake' if seg.shake else ''}"  # noqa: E501
        row = []
        for cls in ("car", "bus_truck"):
            got: dict[str, int] = {}
            for c, k in r["_assigned"]:
                if c.cls == cls and seg.from_s <= c.time_s < seg.to_s:
                    got[k] = got.get(k, 0) + 1
            row.append(f"{cls} {got}")
        print("   ", label, " | ".join(row))


def explain(d: Path, cls: str, kind: str, name: str = "raw.bin") -> None:
    """For each true crossing of ``cls`` counted as ``kind`` (or missed): the side changes
    the counter saw on that line and direction within 1.5 s, and what became of them."""
    r = replay(d, name=name)
    _, truth = _load(d)
    for c, got in assign(r["_crossings"], truth):
        if c.cls != cls or got != kind:
            continue
        near = [
            (p, out, n, part)
            for p, out, n, part in r["_log"]
            if p.line == c.line and abs(p.time - c.time_s) <= 1.5
        ]
        desc = []
        for p, out, n, part in near:
            tr = p.track
            w = [round(x.width, 2) for x in tr.sizes]
            ln = [round(x.length, 1) for x in tr.sizes]
            top = [x.top_fill for x in tr.sizes]
            what = out.cls if isinstance(out, Crossing) else out
            desc.append(
                f"{p.time - c.time_s:+.2f}s {p.direction} -> {what} n={n} hits={tr.hits} "
                f"w~{np.median(w) if w else None} l~{np.median(ln) if ln else None} "
                f"top={np.median(top) if top else None} part={part}"
            )
        print(f"{c.time_s:7.2f} {c.line} {c.direction}: " + (" || ".join(desc) or "no side change"))


def crops(d: Path, cls: str, kind: str, n: int, out: Path, name: str = "raw.bin") -> None:
    """Frames and masks at true crossings of ``cls`` that were missed (``kind`` missed) or
    counted as another class (``kind`` a class name)."""
    r = replay(d, name=name)
    _, truth = _load(d)
    picked = [c for c, got in assign(r["_crossings"], truth) if c.cls == cls and got == kind]
    print(f"{len(picked)} {cls} -> {kind}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    offsets = (-12, 0, 12)  # half a second before, at, and after the crossing
    want: dict[int, list[tuple[Any, int]]] = {}
    for c in picked[:n]:
        for k, off in enumerate(offsets):
            want.setdefault(c.frame + off, []).append((c, k))
    tiles: dict[float, list[np.ndarray]] = {}
    cap = cv2.VideoCapture(str(d / "video.mp4"))
    raws = _frames(d / name)
    config, _ = _load(d)
    last = max(want) if want else -1
    for frame_no in range(last + 1):
        ok, frame = cap.read()
        _, raw = next(raws)
        if not ok:
            break
        for c, k in want.get(frame_no, []):
            h, w = raw.shape
            small = cv2.resize(frame, (w, h))
            mask = cv2.cvtColor(raw, cv2.COLOR_GRAY2BGR)
            line = next(x for x in config.lines if x.name == c.line)
            s = w / truth.width
            y = int((line.a[1] + line.b[1]) / 2 * s)
            x0 = max(0, int(min(line.a[0], line.b[0]) * s) - 20)
            x1 = min(w, int(max(line.a[0], line.b[0]) * s) + 20)
            y0, y1 = max(0, y - 130), min(h, y + 60)
            view = small[y0:y1, x0:x1].copy()
            cv2.line(view, (0, y - y0), (x1 - x0, y - y0), (0, 255, 255), 1)
            tile = np.vstack([view, mask[y0:y1, x0:x1]])
            tiles.setdefault(c.time_s, [None] * len(offsets))[k] = tile  # type: ignore[list-item]
    cap.release()
    for t, row in tiles.items():
        row = [x for x in row if x is not None]
        img = cv2.resize(np.hstack(row), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(out / f"{cls}_{kind}_{t:07.2f}.png"), img)


def lamp_cost(d: Path, start: float, end: float, name: str = "raw.bin") -> dict[str, Any]:
    """CPU ms per frame of the headlight filter, the tail-light search and the bodies filled
    above tail lights (edge/lamps.py, grey conversion included) on the cached masks and
    background images of a stretch of video: ``ioc bench edge`` draws a daylight scene, where
    none of them runs."""
    cv2.setNumThreads(1)
    config, truth = _load(d)
    pipeline = Pipeline(config)
    pipeline._setup(np.zeros((truth.height, truth.width, 3), np.uint8))
    assert pipeline.headlights is not None
    backgrounds = {round(n): img for n, img in _frames(d / f"{name}.bg")}
    first = round(start * truth.fps)
    cap = cv2.VideoCapture(str(d / "video.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, first)
    work = []
    background = None  # the latest refreshed at or before the frame, as in replay()
    for n, (t, raw) in enumerate(_frames(d / name)):
        background = backgrounds.get(n, background)
        if n < first:
            continue
        if t > end:
            break
        ok, frame = cap.read()
        assert ok and background is not None
        small = cv2.resize(frame, (raw.shape[1], raw.shape[0]), interpolation=cv2.INTER_LINEAR)
        work.append((small, raw, pipeline.detector.select(raw).copy(), background))
    cap.release()
    erased = tails = rears = 0
    t0 = time.thread_time()
    for small, raw, fg, background in work:  # as Pipeline.analyse does in the dark
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        heads = pipeline.headlights.lamps(grey)
        erased += pipeline.headlights.apply(grey, background, fg, heads)
        found = pipeline.headlights.tail_lamps(small)
        tails += len(found)
        rears += pipeline.headlights.fill_rears(found, raw, fg)
    cpu = time.thread_time() - t0
    return {
        "video": d.name,
        "from_s": start,
        "to_s": end,
        "frames": len(work),
        "ms_per_frame": round(1000 * cpu / max(len(work), 1), 3),
        "erased_px_per_frame": round(erased / max(len(work), 1)),
        "tail_lamps_per_frame": round(tails / max(len(work), 1), 1),
        "rears_filled_per_frame": round(rears / max(len(work), 1), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("cache", "replay", "crops", "explain", "lamps"))
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-texture", action="store_true", help="cache: no shadow texture test")
    ap.add_argument("--name", default="raw.bin")
    ap.add_argument("--cls", default="car")
    ap.add_argument("--kind", default="missed")
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--out", type=Path, default=Path("/tmp/crops"))
    ap.add_argument("--from-s", type=float, default=420.0, help="lamps: start (s)")
    ap.add_argument("--to-s", type=float, default=440.0, help="lamps: end (s)")
    a = ap.parse_args()
    for d in a.dirs:
        if a.mode == "cache":
            cache(d, a.name, texture=not a.no_texture)
        elif a.mode == "replay":
            r = replay(d, name=a.name)
            _, truth = _load(d)
            r["_assigned"] = assign(r.pop("_crossings"), truth)
            r.pop("_log")
            print(d.name, summary(r), f"({r['replay_s']} s)")
            print("   confusion", json.dumps(r["confusion"]), "false", r["false_by_class"])
            by_condition(r, truth)
            r.pop("_assigned")
            if a.json:
                print(json.dumps(r))
        elif a.mode == "lamps":
            print(json.dumps(lamp_cost(d, a.from_s, a.to_s, a.name)))
        elif a.mode == "explain":
            explain(d, a.cls, a.kind, a.name)
        else:
            crops(d, a.cls, a.kind, a.n, a.out, a.name)


if __name__ == "__main__":
    main()
