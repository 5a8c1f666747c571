"""Event snapshots, off by default: a downscaled JPEG with faces and licence plates blurred.

Faces and plates are personal data (Decree 13/2023), so they are found with the Haar cascades
OpenCV ships (``cv2.data.haarcascades``: frontal face, Russian-format plates; the latter fire on
most rectangular plates with dark characters on a light ground) and blurred on the FULL frame
before it is downscaled, because a small plate is unreadable to the cascade after downscaling
but might still be readable to a person. The cascades miss some (profile faces, dirty plates):
the downscale to ``snapshots.width`` is the second line of defence.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import cv2

from edge.config import SnapshotConfig
from edge.images import Image

Frame = Image
Box = tuple[int, int, int, int]  # x, y, w, h

_CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_russian_plate_number.xml")
# Cascades run on at most this width: enough for a face of ~24 px at 1080p, and it bounds the
# cost of a snapshot to tens of milliseconds.
_DETECT_WIDTH = 1280
# Margin around a detection that is blurred too (hair, plate frame).
_MARGIN = 0.15
# Event payloads stay well under the broker's 64 KiB packet limit.
_MAX_JPEG_BYTES = 40_000


@dataclass(frozen=True, slots=True)
class Snapshot:
    jpeg: bytes
    width: int
    height: int
    blurred: int  # regions blurred

    def b64(self) -> str:
        return base64.b64encode(self.jpeg).decode("ascii")


class Anonymiser:
    def __init__(self) -> None:
        base = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]
        self.cascades = []
        for name in _CASCADES:
            cascade = cv2.CascadeClassifier(str(base / name))
            if cascade.empty():
                raise RuntimeError(f"OpenCV cascade {name} did not load from {base}")
            self.cascades.append(cascade)

    def detect(self, frame: Frame) -> list[Box]:
        """Faces and plates in full-frame pixels."""
        h, w = frame.shape[:2]
        scale = min(1.0, _DETECT_WIDTH / w)
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if scale < 1.0:
            grey = cv2.resize(
                grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
            )
        grey = cv2.equalizeHist(grey)
        boxes: list[Box] = []
        for cascade in self.cascades:
            found = cascade.detectMultiScale(
                grey, scaleFactor=1.1, minNeighbors=3, minSize=(12, 12)
            )
            for x, y, bw, bh in found if len(found) else []:
                boxes.append(
                    (round(x / scale), round(y / scale), round(bw / scale), round(bh / scale))
                )
        return boxes

    def blur(self, frame: Frame) -> tuple[Frame, list[Box]]:
        """A copy of the frame with every detection (and a margin) blurred beyond recognition."""
        out = frame.copy()
        h, w = frame.shape[:2]
        boxes = self.detect(frame)
        for x, y, bw, bh in boxes:
            mx, my = round(bw * _MARGIN), round(bh * _MARGIN)
            x0, y0 = max(0, x - mx), max(0, y - my)
            x1, y1 = min(w, x + bw + mx), min(h, y + bh + my)
            region = out[y0:y1, x0:x1]
            if region.size == 0:
                continue
            # Pixelate then blur: a Gaussian alone can be partly inverted on text (plates).
            small = cv2.resize(region, (max(1, (x1 - x0) // 12), max(1, (y1 - y0) // 12)))
            coarse = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
            k = max(3, ((min(x1 - x0, y1 - y0) // 4) | 1))
            out[y0:y1, x0:x1] = cv2.GaussianBlur(coarse, (k, k), 0)
        return out, boxes

    def snapshot(self, frame: Frame, cfg: SnapshotConfig) -> Snapshot:
        clean, boxes = self.blur(frame)
        h, w = clean.shape[:2]
        width = min(cfg.width, w)
        height = max(1, round(h * width / w))
        small = cv2.resize(clean, (width, height), interpolation=cv2.INTER_AREA)
        quality = cfg.jpeg_quality
        while True:
            ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise RuntimeError("JPEG encoding failed")
            if len(buf) <= _MAX_JPEG_BYTES or quality <= 20:
                break
            quality -= 15
        return Snapshot(buf.tobytes(), width, height, len(boxes))
