"""Two measured shortcuts through paho-mqtt for the ingest hot path.

Profiling the worker at ~20,000 msg/s (py-spy, docs/performance.md) found paho spending:
- ~15 % of the CPU in ``Client.ack``: each PUBACK is queued as its own 4-byte packet, with a
  wake-up syscall per call. ``ack_batch`` packs a committed batch's PUBACKs into one buffer and
  queues it once; paho writes it like any packet.
- ~12 % in ``MQTTMatcher.iter_match``: paho matches every incoming topic against the
  per-topic callbacks of ``message_callback_add`` even when there are none. ``IngestClient``
  calls ``on_message`` directly while no such callback is registered.

- per message, a trip round its network loop: ``loop_read`` reads one packet per ``select()``
  when nothing of ours is in flight (ingest only receives), and ``_packet_read`` takes the
  fixed header one byte per ``recv()``: a select and three or four syscalls a message.
  ``IngestClient`` reads the socket 64 KiB at a time and handles up to ``_READ_BURST`` packets
  per wake-up.

All lean on paho internals that are stable across paho 2.x (pinned ``paho-mqtt<3``) and fall
back to the public behaviour when the client does not look as expected or speaks MQTT 5 (whose
PUBACK may carry more). The reliability tests see a lost acknowledgement as redelivery, and a
missed message as a lost row.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

_PUBACK = 0x40
_RECV_BYTES = 65_536
# Packets handled per wake-up before the loop goes round to write (the batch acknowledgements
# queued by the writer thread) and keep-alive: a burst under a millisecond of work per packet
# keeps acknowledgements prompt while the inbound stream never pauses.
_READ_BURST = 256


def ack_batch(client: mqtt.Client, qos1_mids: Sequence[int]) -> None:
    if not qos1_mids:
        return
    queue = getattr(client, "_packet_queue", None)
    if queue is None or client.protocol == mqtt.MQTTv5:
        for mid in qos1_mids:
            client.ack(mid, 1)
        return
    blob = b"".join(struct.pack("!BBH", _PUBACK, 2, mid) for mid in qos1_mids)
    queue(_PUBACK, blob, 0, 1)


class IngestClient(mqtt.Client):
    """paho's client, minus the per-message topic matching when nothing needs it, and
    reading the socket in bulk."""

    _filtered_callbacks = False
    _rbuf = b""
    _rpos = 0
    _rsock: object = None  # the socket _rbuf came from: a reconnect starts afresh

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rsock is not self._sock:
            self._rsock, self._rbuf, self._rpos = self._sock, b"", 0
        if self._rpos >= len(self._rbuf):
            # Raises BlockingIOError when nothing waits, as paho expects; b"" on EOF.
            data = super()._sock_recv(max(bufsize, _RECV_BYTES))
            if len(data) <= bufsize:
                return data
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        self._rpos = end = min(start + bufsize, len(self._rbuf))
        return self._rbuf[start:end]

    def _buffered(self) -> bool:
        return self._rsock is self._sock and self._rpos < len(self._rbuf)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        handled = 0
        while True:
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            handled += 1
            # Stop for the loop's writes only with nothing left in our buffer: select()
            # cannot see bytes already read from the socket, and would sleep on them.
            if handled >= max(max_packets, _READ_BURST) and not self._buffered():
                return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_publish(self) -> MQTTErrorCode:
        """A QoS 0/1 PUBLISH of MQTT 3.1.1 straight to ``on_message``: paho's own handler
        decodes through a generic helper, wraps it in an exception converter and formats a
        debug line per message whether or not anything logs. Anything else, and anything
        malformed, goes paho's way (which reports it)."""
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        on_message = self.on_message
        if (qos == 2 or self._protocol == mqtt.MQTTv5 or self._filtered_callbacks
                or on_message is None):  # fmt: skip
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        if len(packet) < 2:  # no room for the topic's length: paho reports it
            return super()._handle_publish()
        start = 2 + ((packet[0] << 8) | packet[1])
        end = start + 2 if qos else start
        if end > len(packet) or start == 2:  # truncated, or MQTT 3's forbidden empty topic
            return super()._handle_publish()
        message = mqtt.MQTTMessage(
            (packet[start] << 8) | packet[start + 1] if qos else 0, bytes(packet[2:start])
        )
        message.qos = qos
        message.dup = bool(header & 0x08)
        message.retain = bool(header & 0x01)
        message.payload = bytes(packet[end:])
        with self._in_callback_mutex:
            on_message(self, self._userdata, message)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(message.mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def message_callback_add(self, sub: str, callback: Callable[..., Any]) -> None:
        self._filtered_callbacks = True
        super().message_callback_add(sub, callback)

    def _handle_on_message(self, message: mqtt.MQTTMessage) -> None:
        on_message = self.on_message
        if self._filtered_callbacks or on_message is None:
            super()._handle_on_message(message)
            return
        with self._in_callback_mutex:
            # Exceptions propagate as paho's own handler lets them (suppress_exceptions off);
            # ingest's on_message catches everything itself.
            on_message(self, self._userdata, message)
