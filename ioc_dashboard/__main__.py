"""``python -m ioc_dashboard``: serve the wall with the settings of this deployment."""

from __future__ import annotations

import logging

from ioc_core.settings import Settings
from ioc_dashboard.app import create_app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings()
    secret = settings.wall_session_secret
    app = create_app(
        api_url=settings.api_url,
        api_key=settings.wall_api_key,
        refresh_ms=settings.wall_refresh_ms,
        tile_url=settings.wall_tile_url,
        session_secret=secret.get_secret_value() if secret else None,
    )
    # No debug: the reloader would fork a second process, and dev tools have no place on a wall.
    app.run(host=settings.dashboard_host, port=settings.dashboard_port, debug=False)


if __name__ == "__main__":
    main()
