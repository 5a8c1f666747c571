"""``offline`` incidents on per-device links, advanced a step per engine tick, never waiting.

An offline device loses its connection uncleanly, so the broker publishes its last will, and
comes back at the end with a retained ``online``. A will carries its connect time, so the
device first reconnects with a will stamped at the incident's start, says ``online`` (the
status history shows when that connection was made), and then vanishes. Each of those steps
needs the broker; the engine has one thread for the whole fleet, so none of them is waited
for: ``step`` (called every tick) takes the next one when the broker has done its part.
Waiting up to 10 s per device for a link to connect stalled every device's schedule whenever
the broker was down.

With the broker down through the incident the will link never connects, so no ``offline``
shows (the platform cannot hear anyone then); the device's link after the incident is handed
out at once with its ``online`` queued, and its readings follow the rule of every link (kept
up to its window, then dropped) until the broker answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from simulators.city import SimDevice
from simulators.links import Link

NewLink = Callable[[SimDevice, datetime], Link]  # (device, last will's timestamp), not started


@dataclass
class _Outage:
    """One device's way through its incident."""

    dev: SimDevice
    start: datetime
    before: Link  # the device's link until the start: hung up cleanly (no will)
    will: Link | None = None  # connects only to leave a last will stamped at the start
    announced: bool = False  # the will link has published its "online"
    vanished: bool = False  # ... and dropped its connection: the broker published the will
    after: Link | None = None  # the device's link from the end, started once the others are off


class Outages:
    def __init__(self, new_link: NewLink) -> None:
        self._new_link = new_link
        self._open: dict[str, _Outage] = {}

    def begin(self, key: str, dev: SimDevice, link: Link, at: datetime) -> None:
        """The device goes offline at ``at``: its link hangs up now, the rest in ``step``."""
        link.hang_up(at, say_goodbye=False)  # no join: Engine._close joins every link
        self._open[key] = _Outage(dev, at, link)
        self.step()

    def end(self, key: str, at: datetime) -> Link:
        """The device is back at ``at``: its new link, with a retained ``online`` queued.

        The link is started by ``step`` once the device's earlier links are off the broker
        (they share its client id, and a second connection with it would take the session over
        from a live one, which makes the broker publish that one's will after our ``online``).
        """
        o = self._open[key]
        self._settle(o)
        o.after = self._new_link(o.dev, at)
        o.after.status("online", at)  # paho keeps it and sends it once connected
        self.step()
        return o.after

    def step(self) -> None:
        """Take every outage's next step that the broker allows now."""
        for key, o in list(self._open.items()):
            if self._advance(o):
                del self._open[key]

    def close(self) -> None:
        """The run ends: a device still offline leaves its will if it can, else just hangs up."""
        for o in self._open.values():
            self._settle(o)
        self._open.clear()

    def _advance(self, o: _Outage) -> bool:
        """One step if the broker allows it; True when nothing is left to do."""
        if o.after is not None:
            if _on_broker(o.before) or (o.will is not None and _on_broker(o.will)):
                return False
            o.after.start()
            return True
        if o.will is None:
            if _on_broker(o.before):  # its DISCONNECT is not out yet (same client id)
                return False
            o.will = self._new_link(o.dev, o.start)
            o.will.start()
        if o.vanished or not o.will.connected.is_set():
            return False
        if not o.announced:
            o.will.status("online", o.start)
            o.announced = True
        if o.will.pending == 0:  # the "online" is acked: the will may follow it
            o.will.drop()
            o.vanished = True
        return False

    def _settle(self, o: _Outage) -> None:
        """End the will link's part: drop it if its ``online`` went out (the broker then
        publishes the will, as it would have a moment later), else hang up without a will."""
        if o.will is None or o.vanished:
            return
        if o.announced and o.will.connected.is_set():
            o.will.drop()  # waits only for the "online" ack, and only while connected
        else:
            o.will.hang_up(o.start, say_goodbye=False)
        o.vanished = True


def _on_broker(link: Link) -> bool:
    """The link still holds a session on the broker (or is about to say DISCONNECT)."""
    return link.connected.is_set()
