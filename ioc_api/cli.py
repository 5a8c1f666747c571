"""``ioc api``: serve the HTTP API."""

from __future__ import annotations

import typer
import uvicorn

from ioc_api.app import create_app
from ioc_core.cli.common import fail_cleanly, settings_from_env

app = typer.Typer(no_args_is_help=True, help="The HTTP API.")


@app.command("run")
@fail_cleanly
def run() -> None:
    """Serve the API on IOC_API_HOST:IOC_API_PORT (default 127.0.0.1:8000)."""
    settings = settings_from_env()
    # Live streams never end by themselves: give them a few seconds on shutdown, not forever.
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port,
                timeout_graceful_shutdown=5)  # fmt: skip
