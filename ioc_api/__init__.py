"""The HTTP API (FastAPI) over the registry and telemetry; built by ``create_app(settings)``.

``create_app`` is imported on first use (PEP 562), not with the package: ``ioc accounts`` and
the other light modules under ``ioc_api`` then start without the routes' scikit-learn and
pandas (about 2 s of CPU per process).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ioc_api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ioc_api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
