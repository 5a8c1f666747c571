"""The private stack: a PostgreSQL + TimescaleDB cluster and a Mosquitto broker under ``var/``.

Production points the same code at external services by settings; this package is only for
the services the project starts itself (demo, tests, a developer's machine).
"""

from ioc_core.stack.control import StackStatus, stack_down, stack_status, stack_up

__all__ = ["StackStatus", "stack_down", "stack_status", "stack_up"]
