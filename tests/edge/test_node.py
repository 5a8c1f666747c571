"""The node against a real broker: what leaves it, and how it rides out a broker outage."""

from __future__ import annotations

import itertools
import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
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
from ioc_core.stack.temporary import temporary_settings, temporary_var_dir
from tests.edge.conftest import Clip, Recorder

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


@pytest.fixture
def private_broker() -> Iterator[tuple[Settings, MosquittoService]]:
    """A Mosquitto of this test's own, so stopping it disturbs nobody else."""
    var_dir = temporary_var_dir()
    settings = temporary_settings(var_dir)
    broker = MosquittoService(settings)
    broker.start()
    try:
        yield settings, broker
    finally:
        broker.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


def test_the_node_rides_out_a_broker_outage_and_delivers_every_interval_in_order(
    private_broker: tuple[Settings, MosquittoService],
    tenant: str,
    clip: Clip,
    recorder_factory: Any,
    tmp_path: Path,
) -> None:
    settings, broker = private_broker
    config = load_config(
        clip.config_with(tenant, intervals_s=[3, 9], telemetry_interval_s=3, node_health_s=5)
    )
    recorder: Recorder = recorder_factory(settings.mqtt_host, settings.mqtt_port, tenant)
    node = EdgeNode(config, settings, realtime=False, outbox_path=tmp_path / "outbox.sqlite")
    stop = threading.Event()
    result: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: result.update(summary=node.run(stop, drain_timeout=60)), daemon=True
    )
    thread.start()
    try:
        wait_for(lambda: telemetry_of(recorder.snapshot()), 30, "the first interval")
        broker.stop()  # the data centre goes away ...
        frames_at_cut = node.summary.frames
        wait_for(lambda: node.outbox.depth() >= 3, 30, "intervals queued on disk")
        time.sleep(3)
        assert node.summary.frames > frames_at_cut, "the node stopped analysing"
        broker.start()  # ... and comes back
        thread.join(timeout=60)
        assert not thread.is_alive(), "the node did not finish after the broker came back"
    finally:
        stop.set()
        thread.join(timeout=10)
    summary = result["summary"]
    wait_for(
        lambda: len(telemetry_of(recorder.snapshot())) >= summary.intervals * 3 // 4, 20,
        "the replayed intervals",
    )  # fmt: skip
    wait_for(lambda: count_totals(telemetry_of(recorder.snapshot())) == clip.totals(), 10,
             "every counted vehicle")  # fmt: skip
    telemetry = telemetry_of(recorder.snapshot())
    seqs = [p["seq"] for p in telemetry]
    assert seqs == list(range(len(seqs))), "intervals missing, repeated or out of order"
    stamps = [p["ts"] for p in telemetry]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    # Original timestamps: interval ends 3 s of video apart, not bunched at the replay.
    times = [datetime.fromisoformat(s).timestamp() for s in stamps]
    assert all(abs((b - a) - 3.0) < 1e-6 for a, b in itertools.pairwise(times))
    long_events = [
        p
        for t, p in recorder.snapshot()
        if t.endswith("/event") and p["type"] == "traffic_interval"
    ]
    assert [p["ts"] for p in long_events] == sorted(p["ts"] for p in long_events)
    left = Outbox(tmp_path / "outbox.sqlite", max_bytes=config.outbox.max_bytes)
    assert (left.depth(), left.dropped()) == (0, 0)  # all delivered, nothing dropped
    left.close()
