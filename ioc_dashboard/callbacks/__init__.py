"""Wiring between the page and the API; decisions live in the ``*_view`` and form modules.

Callbacks are registered on the given app (not with the global ``dash.callback``) so several
apps can be built in one process, as the tests do, without sharing callbacks. Every callback
reads through :meth:`WallAuth.api`, i.e. with the signed-in person's token or the wall's key.
"""

from __future__ import annotations

from dataclasses import dataclass

import dash

from ioc_dashboard.auth import WallAuth


@dataclass(frozen=True, slots=True)
class WallContext:
    auth: WallAuth
    tile_url: str | None


def register_callbacks(app: dash.Dash, ctx: WallContext) -> None:
    from ioc_dashboard.callbacks import alerts, drilldowns, live, thresholds

    live.register(app, ctx)
    alerts.register(app, ctx)
    drilldowns.register(app, ctx)
    thresholds.register(app, ctx)
