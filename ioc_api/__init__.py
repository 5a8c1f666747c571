"""The HTTP API (FastAPI) over the registry and telemetry; built by ``create_app(settings)``."""

from ioc_api.app import create_app

__all__ = ["create_app"]
