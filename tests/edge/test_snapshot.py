"""Snapshots: blur lands exactly where a face or plate cascade fires, and nowhere else."""

from __future__ import annotations

import cv2
import numpy as np

from edge.config import SnapshotConfig
from edge.snapshot import Anonymiser


def street_with_plates() -> np.ndarray:
    rng = np.random.default_rng(5)
    img = rng.integers(60, 120, (480, 640, 3), dtype=np.uint8)
    for x, y, s in ((50, 50, 1.0), (300, 200, 1.4), (100, 350, 0.8)):
        w, h = int(160 * s), int(36 * s)
        cv2.rectangle(img, (x, y), (x + w, y + h), (235, 235, 235), -1)
        cv2.rectangle(img, (x, y), (x + w, y + h), (0, 0, 0), 2)
        cv2.putText(img, "A123BC77", (x + 6, y + int(28 * s)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.9 * s, (0, 0, 0), 2)  # fmt: skip
    return img


def sharpness(img: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_blur_is_applied_where_a_cascade_fires() -> None:
    anonymiser = Anonymiser()
    img = street_with_plates()
    boxes = anonymiser.detect(img)
    assert len(boxes) >= 2, "the plate cascade must fire on the drawn plates"
    out, blurred = anonymiser.blur(img)
    assert blurred == boxes
    for x, y, w, h in boxes:
        before, after = img[y : y + h, x : x + w], out[y : y + h, x : x + w]
        assert sharpness(after) < 0.05 * sharpness(before), "plate still sharp"
    # Outside the detections (and their margin) the picture is untouched.
    mask = np.zeros(img.shape[:2], bool)
    for x, y, w, h in boxes:
        mask[max(0, y - h) : y + 2 * h, max(0, x - w) : x + 2 * w] = True
    assert np.array_equal(out[~mask], img[~mask])


def test_the_snapshot_is_a_small_jpeg_of_the_blurred_frame() -> None:
    anonymiser = Anonymiser()
    img = street_with_plates()
    snap = anonymiser.snapshot(img, SnapshotConfig(enabled=True, width=320))
    decoded = cv2.imdecode(np.frombuffer(snap.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (240, 320, 3)
    assert snap.blurred >= 2
    # No plate is found again in what would leave the node, even upscaled back.
    assert anonymiser.detect(cv2.resize(decoded, (640, 480))) == []
