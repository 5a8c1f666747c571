"""Just enough MQTT 3.1.1 to publish QoS 1 fast: CONNECT, PUBLISH, and reading PUBACKs.

Written here rather than taken from paho because the load generator shares the machine with
what it measures: paho spends tens of microseconds of Python per QoS 1 publish, which would
take a core away from the broker, ingest and the database. Encoding a PUBLISH is a few byte
concatenations, and PUBACKs are read in bulk. Only the benchmark uses this module.
"""

from __future__ import annotations

import socket
import struct


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def connect_packet(client_id: str, *, keepalive: int = 60, clean: bool = True) -> bytes:
    flags = 0x02 if clean else 0x00
    body = _utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + _utf8(client_id)
    return b"\x10" + _remaining_length(len(body)) + body


def publish_qos1(topic: bytes, packet_id: int, payload: bytes) -> bytes:
    """``topic`` is pre-encoded with its length prefix (see :func:`topic_field`)."""
    body_len = len(topic) + 2 + len(payload)
    return b"\x32" + _remaining_length(body_len) + topic + struct.pack("!H", packet_id) + payload


def topic_field(topic: str) -> bytes:
    return _utf8(topic)


class Connection:
    def __init__(self, host: str, port: int, client_id: str) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(connect_packet(client_id))
        connack = self._read_exact(4)
        if connack[0] != 0x20 or connack[3] != 0:
            raise ConnectionError(f"broker refused CONNECT: {connack!r}")
        self.sock.setblocking(False)
        self._buf = b""

    def _read_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            data += chunk
        return data

    def send(self, data: bytes) -> None:
        self.sock.setblocking(True)
        self.sock.sendall(data)
        self.sock.setblocking(False)

    def read_pubacks(self) -> list[int]:
        """Packet ids of every PUBACK that has arrived; never blocks."""
        try:
            while chunk := self.sock.recv(65536):
                self._buf += chunk
        except BlockingIOError:
            pass
        ids = []
        buf = self._buf
        i = 0
        while len(buf) - i >= 4:
            if buf[i] != 0x40 or buf[i + 1] != 2:
                raise ConnectionError(f"unexpected packet from broker: {buf[i : i + 4]!r}")
            ids.append(struct.unpack_from("!H", buf, i + 2)[0])
            i += 4
        self._buf = buf[i:]
        return ids

    def close(self) -> None:
        try:
            self.sock.setblocking(True)
            self.sock.sendall(b"\xe0\x00")  # DISCONNECT
        except OSError:
            pass
        self.sock.close()
