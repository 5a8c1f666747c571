"""Video sources: a file (optionally looped, optionally paced), an RTSP/HTTP stream, a V4L2 device.

A frame carries its own time: for a file, the start time plus its index over the file's fps
(so a file processed faster than real time still yields the timestamps a camera would have);
for a live source, the wall clock when it arrived. Live sources are read on a thread that keeps
only the newest frame, so a slow pipeline drops frames (counted) instead of falling behind.
Losing a source and getting it back is the runner's business (:class:`Reconnector`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2

from edge.config import CameraConfig, FileSource, StreamSource, V4l2Source
from edge.errors import SourceError
from edge.images import Image

log = logging.getLogger(__name__)

Frame = Image
_DEFAULT_FPS = 25.0


@dataclass(frozen=True, slots=True)
class Timed:
    frame: Frame
    time: float  # Unix seconds (or seconds from 0 in evaluation)


class FrameSource(Protocol):
    description: str
    dropped: int

    def read(self) -> Timed | None:
        """The next frame; None at the end of a file (not looped) or when the source is lost."""
        ...

    def close(self) -> None: ...


class FileFrames:
    def __init__(
        self,
        path: Path,
        *,
        loop: bool = False,
        realtime: bool = False,
        fps: float | None = None,
        start: float | None = None,
    ) -> None:
        self.description = f"file {path}"
        if not path.is_file():
            raise SourceError(self.description, "no such file")
        self.path = path
        self.loop = loop
        self.realtime = realtime
        self.cap = cv2.VideoCapture(str(path))
        if not self.cap.isOpened():
            raise SourceError(self.description, "OpenCV cannot open it (not a video?)")
        native = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps or (native if native and 0 < native < 1000 else _DEFAULT_FPS)
        self.start = time.time() if start is None else start
        self.index = 0
        self.dropped = 0
        self.ended = False

    def read(self) -> Timed | None:
        if self.realtime:
            self._pace()
        ok, frame = self.cap.read()
        if not ok and self.loop and self.index > 0:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        if not ok:
            self.ended = True
            return None
        t = self.start + self.index / self.fps
        self.index += 1
        return Timed(frame, t)

    def _pace(self) -> None:
        """Wait for the frame's time; skip frames (counted as dropped) when behind."""
        due = self.start + self.index / self.fps
        late = time.time() - due
        while late > 2.0 / self.fps:
            if not self.cap.grab():
                return
            self.index += 1
            self.dropped += 1
            late -= 1.0 / self.fps
        if late < 0:
            time.sleep(-late)

    def close(self) -> None:
        self.cap.release()


class LiveFrames:
    """Stream or camera read on its own thread; the pipeline takes the newest frame."""

    def __init__(
        self, target: str | int, description: str, size: tuple[int, int] | None = None
    ) -> None:
        self.description = description
        self.cap = cv2.VideoCapture(target)
        if size is not None:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        if not self.cap.isOpened():
            self.cap.release()
            raise SourceError(description, "cannot open")
        self.dropped = 0
        self._latest: Timed | None = None
        self._lost = False
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._reader, name="edge-source", daemon=True)
        self._thread.start()

    def _reader(self) -> None:
        while not self._stop.is_set():
            ok, frame = self.cap.read()
            with self._cond:
                if not ok:
                    self._lost = True
                    self._cond.notify_all()
                    return
                if self._latest is not None:
                    self.dropped += 1
                self._latest = Timed(frame, time.time())
                self._cond.notify_all()

    def read(self) -> Timed | None:
        with self._cond:
            while self._latest is None and not self._lost:
                if not self._cond.wait(timeout=10.0):
                    log.warning("%s: no frame for 10 s", self.description)
                    return None
            item, self._latest = self._latest, None
            return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.cap.release()


def open_source(config: CameraConfig, *, realtime: bool | None = None) -> FrameSource:
    src = config.source
    if isinstance(src, FileSource):
        return FileFrames(
            config.source_path(),
            loop=src.loop,
            realtime=src.realtime if realtime is None else realtime,
            fps=src.fps or config.processing.fps,
        )
    if isinstance(src, StreamSource):
        return LiveFrames(src.url, f"stream {src.url.split('@')[-1]}")  # no credentials in logs
    assert isinstance(src, V4l2Source)
    target: str | int = int(src.device) if src.device.isdigit() else src.device
    size = (src.width, src.height) if src.width and src.height else None
    return LiveFrames(target, f"v4l2 {src.device}", size)


class Reconnector:
    """Open a source, and again with exponential backoff when it fails or is lost."""

    def __init__(
        self,
        opener: Callable[[], FrameSource],
        *,
        initial_s: float,
        max_s: float,
        attempts: int,
        stop: threading.Event,
    ) -> None:
        self.opener = opener
        self.initial_s = initial_s
        self.max_s = max_s
        self.attempts = attempts  # 0 = forever
        self.stop = stop
        self.failures = 0

    def open(self) -> FrameSource | None:
        """A working source, or None if stopped; SourceError once the attempt budget is spent."""
        delay = self.initial_s
        tries = 0
        while not self.stop.is_set():
            try:
                source = self.opener()
                self.failures = 0
                return source
            except SourceError as exc:
                tries += 1
                self.failures += 1
                if self.attempts and tries >= self.attempts:
                    raise
                log.warning("%s; retrying in %.1f s", exc, delay)
                self.stop.wait(delay)
                delay = min(delay * 2, self.max_s)
        return None
