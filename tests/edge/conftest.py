"""Edge fixtures: a drawn clip whose crossings are known by construction, and an MQTT recorder."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from edge.scene import Scene


@dataclass(frozen=True)
class Clip:
    video: Path
    config: Path
    truth: Path
    raw_config: dict[str, Any]
    crossings: list[dict[str, Any]]
    seconds: float
    fps: float = 25.0

    def totals(self) -> Counter[tuple[str, str]]:
        return Counter((c["direction"], c["class"]) for c in self.crossings)

    def config_with(self, tenant: str, **changes: Any) -> Path:
        """A copy of the camera.yaml with this test's tenant and some keys replaced."""
        raw = json.loads(json.dumps(self.raw_config))
        raw["camera"]["tenant"] = tenant
        raw["source"]["path"] = str(self.video)
        raw.update(changes)
        path = self.config.parent / f"camera-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text(yaml.safe_dump(raw), encoding="utf-8")
        return path


def make_clip(
    folder: Path,
    *,
    seconds: float,
    seed: int,
    rate: float,
    width: int = 640,
    fps: float = 25.0,
) -> Clip:
    height = width * 9 // 16
    scene = Scene(width=width, height=height, fps=fps, seed=seed, rate_per_min=rate)
    video = folder / "clip.mp4"
    crossings = scene.write(video, seconds)
    raw = scene.config(Path("clip.mp4"))
    config = folder / "camera.yaml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    truth = folder / "truth.json"
    truth.write_text(
        json.dumps(
            {
                "format": "ioc-traffic-truth/1",
                "seed": seed,
                "fps": fps,
                "frames": round(seconds * fps),
                "width": width,
                "height": height,
                "duration_s": seconds,
                "lines": raw["lines"],
                "crossings": [{**c, "vehicle": i} for i, c in enumerate(crossings)],
            }
        ),
        encoding="utf-8",
    )
    return Clip(video, config, truth, raw, crossings, seconds, fps)


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """45 s of two-way traffic, every class, crossings recorded as they are drawn."""
    return make_clip(tmp_path_factory.mktemp("clip"), seconds=45.0, seed=11, rate=80.0)


class Recorder:
    """Every message under ioc/v1/<tenant>/#, in arrival order, on a persistent session."""

    def __init__(self, host: str, port: int, tenant: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"rec-{uuid.uuid4().hex[:8]}",
            clean_session=False,
        )
        self.filter = f"ioc/v1/{tenant}/#"
        self.client.on_connect = lambda c, *_: c.subscribe(self.filter, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "recorder did not subscribe"

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def snapshot(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [(t, json.loads(p)) for t, p in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def recorder_factory() -> Iterator[Any]:
    made: list[Recorder] = []

    def make(host: str, port: int, tenant: str) -> Recorder:
        rec = Recorder(host, port, tenant)
        made.append(rec)
        return rec

    yield make
    for rec in made:
        rec.close()
