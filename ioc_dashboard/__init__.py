"""The operations wall: a Dash app that reads the IOC's HTTP API and works with no Internet."""

from ioc_dashboard.app import create_app

__all__ = ["create_app"]
