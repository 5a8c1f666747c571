"""Several ingest workers' readings streams merged into event-time order. Pure: no services."""

from __future__ import annotations

import numpy as np

from analytics.alerts.merge import StreamMerge
from devices.readings_stream import RECORD

S = 1_000_000  # microseconds


def rows(*times_s: float, key: int = 1) -> np.ndarray:
    out = np.zeros(len(times_s), dtype=RECORD)
    out["t"] = [int(t * S) for t in times_s]
    out["k"] = key
    out["v"] = times_s
    return out


def times(released: np.ndarray) -> list[float]:
    return [t / S for t in released["t"].tolist()]


def test_one_source_is_never_held() -> None:
    m: StreamMerge[str] = StreamMerge(idle_s=1.0)
    m.add("a", rows(10, 11), "m1", now=0.0)
    out, done = m.release(now=0.0)
    assert times(out) == [10, 11] and done == ["m1"] and len(m) == 0


def test_two_sources_are_judged_in_event_time_order() -> None:
    m: StreamMerge[str] = StreamMerge(idle_s=1.0)
    # Worker b commits the device's later readings before worker a commits the earlier one.
    m.add("b", rows(10.2, 10.6), "b1", now=0.0)
    m.add("a", rows(10.0), "a1", now=0.0)
    out, done = m.release(now=0.0)
    assert times(out) == [10.0]  # a has only reached 10.0: b's readings wait
    assert done == ["a1"]  # b1 still has readings held: not acknowledged yet
    m.add("a", rows(10.4, 10.8), "a2", now=0.1)
    out, done = m.release(now=0.1)
    assert times(out) == [10.2, 10.4, 10.6]  # both have passed 10.6 (b's watermark)
    assert done == ["b1"]
    assert len(m) == 1 and m.held_messages == 1  # 10.8 waits for b


def test_a_silent_source_stops_holding_the_others_back() -> None:
    m: StreamMerge[str] = StreamMerge(idle_s=1.0)
    m.add("a", rows(10.0), "a1", now=0.0)
    m.add("b", rows(11.0), "b1", now=0.0)
    assert times(m.release(now=0.0)[0]) == [10.0]
    m.add("b", rows(12.0), "b2", now=0.5)
    assert times(m.release(now=0.5)[0]) == []  # a is quiet, but only for half a second
    out, done = m.release(now=1.2)  # a silent for over idle_s: b alone decides
    assert times(out) == [11.0, 12.0] and done == ["b1", "b2"]


def test_an_empty_message_is_released_and_keeps_its_source_active() -> None:
    m: StreamMerge[str] = StreamMerge(idle_s=1.0)
    m.add("a", rows(10.0), "a1", now=0.0)
    m.add("b", rows(), "b0", now=0.0)  # b has sent nothing yet: holds a until it does
    out, done = m.release(now=0.0)
    assert times(out) == [] and done == ["b0"]
    m.add("b", rows(10.5), "b1", now=0.2)
    out, done = m.release(now=0.2)
    assert times(out) == [10.0] and done == ["a1"]
