"""Encoding on a thread of its own: OpenCV's encoder releases the GIL, so drawing frame n+1
overlaps encoding frame n and a 2-core machine does both at once."""

from __future__ import annotations

import hashlib
import queue
import threading
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from ioc_core.errors import IocError

FOURCC = "mp4v"  # the MPEG-4 Part 2 encoder every opencv-python wheel ships; H.264 is absent
QUEUE_FRAMES = 8  # enough to absorb jitter, small enough to bound memory (8 x 2.7 MB at 720p)


class FrameWriter:
    """A video file written in the background, in order, optionally hashing the raw frames."""

    def __init__(self, path: Path, *, fps: float, size: tuple[int, int], hash_frames: bool) -> None:
        self.path = path
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*FOURCC), fps, size)
        if not self._writer.isOpened():
            raise IocError(f"cannot open an {FOURCC} video writer for {path}")
        self._digest = hashlib.sha256() if hash_frames else None
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=QUEUE_FRAMES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="video-encoder", daemon=True)
        self._thread.start()
        self.written = 0

    def _run(self) -> None:
        while (frame := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain so the producer never blocks on a dead writer
            try:
                self._writer.write(frame)
                if self._digest is not None:
                    self._digest.update(frame.tobytes())
            except BaseException as exc:  # surfaced to the producer in write()/close()
                self._error = exc

    def write(self, frame: np.ndarray) -> None:
        if self._error is not None:
            raise IocError(f"encoding {self.path} failed: {self._error}") from self._error
        self._queue.put(frame)
        self.written += 1

    def close(self) -> str | None:
        """Flush, close the file, and return the frames' SHA-256 if hashing was asked for."""
        self._queue.put(None)
        self._thread.join()
        self._writer.release()
        if self._error is not None:
            raise IocError(f"encoding {self.path} failed: {self._error}") from self._error
        return self._digest.hexdigest() if self._digest is not None else None

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
            self._writer.release()
