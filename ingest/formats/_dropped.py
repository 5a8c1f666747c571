"""Readings a format drops before the profile has had its say, folded into one dead letter.

SenML and IoT Agent messages carry several readings with their own names and times, so some
can be refused by the format itself (a record naming another device, a bad ``TimeInstant``)
while their neighbours go on to :func:`~ingest.readings.accept_samples`. The device maker
still gets one dead letter per message, worded like the native format's.
"""

from __future__ import annotations

from ingest.readings import Context, Decoded

Dropped = tuple[str, str]  # (reason code, detail naming the reading)


def fold_dropped(ctx: Context, early: list[Dropped], accepted: Decoded, offered: int) -> Decoded:
    """``accepted`` is what ``accept_samples`` made of the ``offered`` samples that survived
    the format's own checks; ``early`` lists the ones that did not, in message order.

    The row's reason code is that of the first reading the format dropped, else the profile's.
    """
    if not early:
        return accepted
    kept = len(accepted.rows)
    details = [detail for _, detail in early]
    if accepted.dead is not None:
        # accept_samples words its detail "dropped N of M metrics (kept K): a; b"; keep a; b.
        prefix = f"dropped {offered - kept} of {offered} metrics (kept {kept}): "
        tail = accepted.dead.detail
        details.append(tail.removeprefix(prefix))
    dropped = len(early) + offered - kept
    detail = f"dropped {dropped} of {len(early) + offered} metrics (kept {kept}): " + "; ".join(
        details
    )
    accepted.dead = ctx.dead_letter(early[0][0], detail)
    return accepted
