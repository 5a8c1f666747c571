"""What every part of the IOC backend shares: settings, database access and migrations, and
the private stack (PostgreSQL + TimescaleDB, Mosquitto) behind the ``ioc`` command line."""

from ioc_core.errors import IocError
from ioc_core.settings import Settings

__all__ = ["IocError", "Settings"]
