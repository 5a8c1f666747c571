"""The node against a real broker: what leaves it, and how it rides out a broker outage."""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devices.payloads import EventV1, StatusV1, TelemetryV1
from devices.profiles import load_profiles
from devices.topics import Channel, Topic
from edge.aggregate import COUNT_METRICS
from edge.config import load_config
from edge.messages import EVENT_TYPES
from edge.node import EdgeNode
from edge.outbox import Outbox
from ioc_core.settings import Settings
from ioc_core.stack.mosquitto import MosquittoService
from tests.edge.conftest import Clip, Recorder, make_clip

pytestmark = [pytest.mark.broker, pytest.mark.slow]

PROFILE_METRICS = {m.name for m in load_profiles()["traffic_camera"].metrics}
# Event data are numbers, flags and short identifiers; anything longer could be an image.
MAX_TEXT = 64


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def telemetry_of(messages: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [p for t, p in messages if t.endswith("/telemetry")]


def count_totals(telemetry: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    totals: Counter[tuple[str, str]] = Counter()
    for p in telemetry:
        for name, value in p["metrics"].items():
            if name.startswith("count_"):
                cls, direction = name.removeprefix("count_").rsplit("_", 1)
                totals[(direction, cls)] += int(value)
    return +totals


def test_with_snapshots_off_only_counts_health_and_events_leave_the_node(
    stack: Settings, tenant: str, clip: Clip, recorder_factory: Any, tmp_path: Path
) -> None:
    config = load_config(clip.config_with(tenant, intervals_s=[5, 15], node_health_s=10))
    assert config.snapshots.enabled is False
    recorder: Recorder = recorder_factory(stack.mqtt_host, stack.mqtt_port, tenant)
    node = EdgeNode(config, stack, realtime=False, outbox_path=tmp_path / "outbox.sqlite")
    summary = node.run(threading.Event())
    assert summary.frames == round(clip.seconds * 25)
    wait_for(
        lambda: any(p.get("state") == "offline" for _, p in recorder.snapshot()), 15,
        "the node's goodbye (after its last interval)",
    )  # fmt: skip
    messages = recorder.snapshot()
    assert messages, "nothing was published"
    channels: Counter[str] = Counter()
    for topic_text, payload in messages:
        topic = Topic.parse(topic_text)
        assert topic.tenant == tenant and topic.device_id == config.camera.id
        channels[topic.channel] += 1
        raw = json.dumps(payload).encode()
        assert len(raw) < 2048, f"{topic_text}: {len(raw)} bytes is more than numbers"
        if topic.channel is Channel.TELEMETRY:
            TelemetryV1.model_validate(payload)
            assert set(payload) == {"v", "ts", "seq", "metrics"}
            assert set(payload["metrics"]) <= PROFILE_METRICS
            assert set(COUNT_METRICS) <= set(payload["metrics"])  # a missing class is visible
        elif topic.channel is Channel.EVENT:
            event = EventV1.model_validate(payload)
            assert event.type in EVENT_TYPES - {"snapshot"}
            for key, value in event.data.items():
                assert (
                    isinstance(value, bool | int | float)
                    or value is None
                    or (isinstance(value, str) and len(value) <= MAX_TEXT)
                ), f"event {event.type}: {key} is not a number, flag or short text"
        else:
            assert topic.channel is Channel.STATUS
            StatusV1.model_validate(payload)
    assert channels[Channel.TELEMETRY] >= 3 and channels[Channel.EVENT] >= 3
    assert count_totals(telemetry_of(messages)) == clip.totals()


# The outage, in the camera's time: 3 minutes = 12 intervals of 15 s produced with no broker.
OUTAGE_CAMERA_S = 180.0
INTERVAL_S = 15


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """4.5 minutes of traffic, small (320 x 180) and at 10 fps: minutes of camera time that the
    node gets through in seconds."""
    return make_clip(
        tmp_path_factory.mktemp("long-clip"), seconds=270.0, seed=13, rate=40.0, width=320, fps=10
    )


def test_the_node_rides_out_a_broker_outage_of_minutes_and_delivers_every_interval_in_order(
    private_broker: tuple[Settings, MosquittoService],
    tenant: str,
    long_clip: Clip,
    recorder_factory: Any,
    tmp_path: Path,
) -> None:
    """The broker disappears for minutes of the node's time; afterwards every interval arrives,
    once, in order, with its original timestamp.

    "Minutes" are the camera's minutes, not the wall clock's: the node reads a 4.5-minute file
    faster than real time, and a file's frames carry file time (start + index / fps), exactly
    as a camera's frames carry theirs, so intervals close, are aggregated and queue on disk as
    they would in a real outage. The broker is really stopped (its process ends) while at least
    3 minutes of video (12 intervals of 15 s, plus the 60 s ones and node health) are analysed,
    and until the uplink has failed to reconnect at least 4 times, backing off 1, 2, 4, 4 s
    (paho's doubling; the ceiling is lowered from the service's 30 s to 4 s so it is reached).
    In wall time the broker is down for as long as that takes: 11 s at least, 20-40 s on a
    loaded machine. Not shown: a wall-clock outage of minutes (the 30 s ceiling itself, broker
    keepalive expiry) and hours of queue (bounded and dropped oldest-first: test_outbox.py).
    """
    settings, broker = private_broker
    clip = long_clip
    config = load_config(
        clip.config_with(
            tenant,
            intervals_s=[INTERVAL_S, 60],
            telemetry_interval_s=INTERVAL_S,
            node_health_s=60,
        )
    )
    recorder: Recorder = recorder_factory(settings.mqtt_host, settings.mqtt_port, tenant)
    node = EdgeNode(config, settings, realtime=False, outbox_path=tmp_path / "outbox.sqlite")
    # The backoff's ceiling is 30 s in service; 4 s here, so that the ceiling is reached and
    # the reconnect after the restart costs the suite seconds, not half a minute.
    node.uplink.client.reconnect_delay_set(min_delay=1, max_delay=4)
    stop = threading.Event()
    result: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: result.update(summary=node.run(stop, drain_timeout=120)), daemon=True
    )
    thread.start()
    try:
        wait_for(lambda: telemetry_of(recorder.snapshot()), 60, "the first interval")
        broker.stop()  # the data centre goes away ...
        frames_at_cut = node.summary.frames
        outage_frames = round(OUTAGE_CAMERA_S * clip.fps)
        assert frames_at_cut + outage_frames < clip.seconds * clip.fps, "clip too short"
        wait_for(
            lambda: node.summary.frames >= frames_at_cut + outage_frames, 180,
            "three minutes of video analysed with the broker down",
        )  # fmt: skip
        wait_for(lambda: len(node.uplink.failed_attempts) >= 4, 60, "four failed reconnects")
        attempts = list(node.uplink.failed_attempts)
        queued = [
            json.loads(item.payload)
            for item in node.outbox.peek(10_000)
            if item.topic.endswith("/telemetry")
        ]
        broker.start()  # ... and comes back
        # Backoff: the wait doubles (1, 2, 4 s) and then stays at the ceiling (4 s here); the
        # upper bounds allow for a loaded machine.
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        assert 1.8 <= gaps[0] < 3.5 and all(3.8 <= g < 6.5 for g in gaps[1:]), gaps
        queued_times = [datetime.fromisoformat(p["ts"]).timestamp() for p in queued]
        assert len(queued) >= OUTAGE_CAMERA_S / INTERVAL_S, "the outage's intervals wait on disk"
        assert max(queued_times) - min(queued_times) >= OUTAGE_CAMERA_S - INTERVAL_S
        thread.join(timeout=120)
        assert not thread.is_alive(), "the node did not finish after the broker came back"
    finally:
        stop.set()
        thread.join(timeout=10)
    summary = result["summary"]
    assert summary.frames == round(clip.seconds * clip.fps)
    # Intervals are aligned to the clock (:00, :15 ...): the clip spans one more when it does
    # not start on a boundary.
    expected_intervals = math.ceil(clip.seconds / INTERVAL_S)
    wait_for(
        lambda: len(telemetry_of(recorder.snapshot())) >= expected_intervals, 30,
        "the replayed intervals",
    )  # fmt: skip
    time.sleep(1.0)  # a duplicate would arrive now
    telemetry = telemetry_of(recorder.snapshot())
    seqs = [p["seq"] for p in telemetry]
    assert seqs == list(range(len(seqs))), "intervals missing, repeated or out of order"
    assert expected_intervals <= len(seqs) <= expected_intervals + 1
    # Original timestamps: interval ends 15 s of video apart, not bunched at the replay.
    times = [datetime.fromisoformat(p["ts"]).timestamp() for p in telemetry]
    assert all(abs((b - a) - INTERVAL_S) < 1e-3 for a, b in itertools.pairwise(times))
    # Every vehicle the node counted arrived (what it counted is tested elsewhere).
    totals = count_totals(telemetry)
    assert {f"count_{c}_{d}": n for (d, c), n in totals.items()} == {
        k: v for k, v in summary.by_metric.items() if v
    }
    assert sum(totals.values()) >= 0.8 * len(clip.crossings)
    long_events = [
        p
        for t, p in recorder.snapshot()
        if t.endswith("/event") and p["type"] == "traffic_interval"
    ]
    assert math.ceil(clip.seconds / 60) <= len(long_events) <= math.ceil(clip.seconds / 60) + 1
    assert [p["ts"] for p in long_events] == sorted(p["ts"] for p in long_events)
    left = Outbox(tmp_path / "outbox.sqlite", max_bytes=config.outbox.max_bytes)
    assert (left.depth(), left.dropped()) == (0, 0)  # all delivered, nothing dropped
    left.close()
