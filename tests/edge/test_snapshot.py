"""Snapshots: blur lands exactly where a face or plate cascade fires, and nowhere else.

Plates are drawn; the face is a real photograph (scikit-image's bundled astronaut), because the
Haar face cascade does not fire on a drawn face.
"""

from __future__ import annotations

import cv2
import numpy as np
import skimage.data

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


def astronaut() -> np.ndarray:
    """A real photograph of a face, offline: ``skimage.data.astronaut()`` (Eileen Collins, NASA,
    public domain) is a PNG inside scikit-image's wheel, not one of the ``skimage.data`` images
    fetched on first use."""
    return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)


def local_variance(img: np.ndarray, block: int = 8) -> float:
    """Mean pixel variance inside small blocks: the detail a face is recognised by, without the
    large-scale light and dark (face against hair and suit) that any blur keeps."""
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float64)
    h, w = (grey.shape[0] // block) * block, (grey.shape[1] // block) * block
    tiles = grey[:h, :w].reshape(h // block, block, w // block, block)
    return float(tiles.var(axis=(1, 3)).mean())


def test_blur_is_applied_where_the_face_cascade_fires_on_a_real_face() -> None:
    anonymiser = Anonymiser()
    img = astronaut()
    boxes = anonymiser.detect(img)
    # It is the face cascade that fires (the plate one finds nothing), where the face is: the
    # photo is 512 x 512 with the face in the upper middle (about x 180-270, y 70-160).
    grey = cv2.equalizeHist(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    faces = anonymiser.cascades[0].detectMultiScale(
        grey, scaleFactor=1.1, minNeighbors=3, minSize=(12, 12)
    )
    assert len(faces) >= 1, "the Haar face cascade must fire on the astronaut's face"
    assert sorted(tuple(int(v) for v in f) for f in faces) == sorted(boxes)
    assert any(150 <= x + w / 2 <= 300 and 60 <= y + h / 2 <= 170 for x, y, w, h in boxes)
    out, blurred = anonymiser.blur(img)
    assert blurred == boxes
    for x, y, w, h in boxes:
        before, after = img[y : y + h, x : x + w], out[y : y + h, x : x + w]
        # Detail is gone: pixel variance drops, within small blocks by most of it.
        assert after.astype(float).var() < before.astype(float).var()
        assert local_variance(after) < 0.25 * local_variance(before), "the face kept its detail"
        assert sharpness(after) < 0.05 * sharpness(before), "the face is still sharp"
    # Outside the detections and their 15 % margin the photo is untouched.
    mask = np.zeros(img.shape[:2], bool)
    for x, y, w, h in boxes:
        mx, my = round(w * 0.15) + 1, round(h * 0.15) + 1
        mask[max(0, y - my) : y + h + my, max(0, x - mx) : x + w + mx] = True
    assert np.array_equal(out[~mask], img[~mask]), "pixels outside the face changed"
    # What would leave the node has no face the cascade can find again.
    snap = anonymiser.snapshot(img, SnapshotConfig(enabled=True, width=320))
    assert snap.blurred == len(boxes)
    decoded = cv2.imdecode(np.frombuffer(snap.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert anonymiser.detect(cv2.resize(decoded, (512, 512))) == []


def test_the_snapshot_is_a_small_jpeg_of_the_blurred_frame() -> None:
    anonymiser = Anonymiser()
    img = street_with_plates()
    snap = anonymiser.snapshot(img, SnapshotConfig(enabled=True, width=320))
    decoded = cv2.imdecode(np.frombuffer(snap.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (240, 320, 3)
    assert snap.blurred >= 2
    # No plate is found again in what would leave the node, even upscaled back.
    assert anonymiser.detect(cv2.resize(decoded, (640, 480))) == []
