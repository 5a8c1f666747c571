"""Assemble the wall: a Dash app that is fully self-contained for an offline control room.

Everything the browser loads comes from this server: Dash's own bundles (``serve_locally``),
our stylesheet from ``assets/``, no fonts or tiles from elsewhere. The one external address Dash
puts in every page (its upgrade check, used only by the debug dev-tools) is removed from the page
config so nothing on the wall even names an outside host.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import dash

from ioc_dashboard import layout
from ioc_dashboard.api_client import WallApiClient
from ioc_dashboard.callbacks import register_callbacks
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


def create_app(*, api_url: str, api_key: str | None = None, refresh_ms: int = 5000) -> dash.Dash:
    """Build the wall against the API at ``api_url``; the API need not be up yet."""
    labels = texts()
    app = _OfflineDash(
        __name__,
        title=labels["title"],
        assets_folder=str(ASSETS_DIR),
        serve_locally=True,
        update_title=None,  # type: ignore[arg-type]  # None is Dash's documented "off"
    )
    app.layout = layout.build_layout(labels=labels, refresh_ms=refresh_ms)
    register_callbacks(app, WallApiClient(base_url=api_url, api_key=api_key), labels)
    return app
