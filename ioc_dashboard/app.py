"""Assemble the wall: a Dash app that is fully self-contained for an offline control room.

Everything the browser loads comes from this server: Dash's own bundles (``serve_locally``),
our stylesheet from ``assets/``, no fonts or tiles from elsewhere. The one external address Dash
puts in every page (its upgrade check, used only by the debug dev-tools) is removed from the page
config so nothing on the wall even names an outside host.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import dash

from ioc_dashboard import layout
from ioc_dashboard.api_client import WallApiClient
from ioc_dashboard.auth import WallAuth, language
from ioc_dashboard.callbacks import WallContext, register_callbacks
from ioc_dashboard.i18n import texts

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
_CONFIG_SCRIPT = re.compile(
    r'(<script id="_dash-config" type="application/json">)(.*?)(</script>)', re.S
)


def _offline_config(match: re.Match[str]) -> str:
    config = json.loads(match.group(2))
    config.pop("dash_version_url", None)
    config["disable_version_check"] = True
    # Escape "/" like Dash does, so the JSON cannot close the surrounding <script> element.
    body = json.dumps(config).replace("/", "\\u002f")
    return f"{match.group(1)}{body}{match.group(3)}"


class _OfflineDash(dash.Dash):
    """Dash with the version-check URL scrubbed from the page (documented override point)."""

    def interpolate_index(self, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["config"] = _CONFIG_SCRIPT.sub(_offline_config, kwargs.get("config", ""))
        return super().interpolate_index(**kwargs)


def create_app(
    *,
    api_url: str,
    api_key: str | None = None,
    refresh_ms: int = 3000,
    tile_url: str | None = None,
    session_secret: str | None = None,
    client: WallApiClient | None = None,
) -> dash.Dash:
    """Build the wall against the API at ``api_url``; the API need not be up yet. ``client``
    replaces the HTTP client (tests hand in one bound to an in-process API)."""
    app = _OfflineDash(
        __name__,
        title=texts()["title"],
        assets_folder=str(ASSETS_DIR),
        serve_locally=True,
        update_title=None,  # type: ignore[arg-type]  # None is Dash's documented "off"
        # The layout is a function of the session (language, role): panes a role may not use
        # are absent, so their callbacks must be allowed to find nothing.
        suppress_callback_exceptions=True,
    )
    server = app.server
    # A random key per start logs everyone out on a restart, which is safe; set
    # IOC_WALL_SESSION_SECRET to keep sessions (and to run several wall processes).
    server.secret_key = session_secret or secrets.token_hex(32)
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    auth = WallAuth(client or WallApiClient(base_url=api_url, api_key=api_key))
    auth.install(server)

    def serve_layout() -> Any:
        lang = language()
        return layout.build_layout(
            labels=texts(lang), lang=lang, user=auth.user(), refresh_ms=refresh_ms
        )

    app.layout = serve_layout
    register_callbacks(app, WallContext(auth=auth, tile_url=tile_url))
    return app
