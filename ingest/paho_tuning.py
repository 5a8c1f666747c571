"""Two measured shortcuts through paho-mqtt for the ingest hot path.

Profiling the worker at ~20,000 msg/s (py-spy, docs/performance.md) found paho spending:
- ~15 % of the CPU in ``Client.ack``: each PUBACK is queued as its own 4-byte packet, with a
  wake-up syscall per call. ``ack_batch`` packs a committed batch's PUBACKs into one buffer and
  queues it once; paho writes it like any packet.
- ~12 % in ``MQTTMatcher.iter_match``: paho matches every incoming topic against the
  per-topic callbacks of ``message_callback_add`` even when there are none. ``IngestClient``
  calls ``on_message`` directly while no such callback is registered.

Both lean on paho internals that are stable across paho 2.x (pinned ``paho-mqtt<3``) and fall
back to the public behaviour when the client does not look as expected or speaks MQTT 5 (whose
PUBACK may carry more). The reliability tests see a lost acknowledgement as redelivery, and a
missed message as a lost row.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt

_PUBACK = 0x40


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
    """paho's client, minus the per-message topic matching when nothing needs it."""

    _filtered_callbacks = False

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
