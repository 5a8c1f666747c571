"""The SQLite outbox: order kept, survives a restart, bounded with the drops counted."""

from __future__ import annotations

from pathlib import Path

from edge.outbox import Outbox


def test_messages_come_out_in_order_and_leave_only_when_acknowledged(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_bytes=1 << 20)
    for i in range(10):
        box.put("t", f"m{i}".encode(), created=float(i))
    first = box.peek(4)
    assert [m.payload for m in first] == [b"m0", b"m1", b"m2", b"m3"]
    box.ack([m.id for m in first[:2]])
    assert [m.payload for m in box.peek(3)] == [b"m2", b"m3", b"m4"]
    assert box.depth() == 8


def test_queue_and_sequence_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, max_bytes=1 << 20)
    assert [box.next_seq() for _ in range(3)] == [0, 1, 2]
    box.put("t", b"kept", created=1.0)
    box.close()
    again = Outbox(path, max_bytes=1 << 20)
    assert [m.payload for m in again.peek(10)] == [b"kept"]
    assert again.next_seq() == 3
    assert again.bytes == 4


def test_over_the_bound_the_oldest_go_first_and_are_counted(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_bytes=64 * 1024)
    payload = b"x" * 1000
    for i in range(100):  # 100 kB into a 64 kB queue
        box.put("t", payload + str(i).encode(), created=float(i))
    assert box.bytes <= 64 * 1024
    kept = box.peek(1000)
    dropped = box.dropped()
    assert dropped == 100 - len(kept) > 0
    # The newest survive, in order; the oldest are gone.
    assert [m.payload[1000:] for m in kept] == [str(i).encode() for i in range(dropped, 100)]
