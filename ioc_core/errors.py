"""Exception family of the shared package.

Each error carries what an operator needs to act (the port, the setting, the path) so the CLI
can print it as is, without a traceback.
"""

from __future__ import annotations


class IocError(Exception):
    """Base of every error the ``ioc`` command reports as a clear message and exit code 1."""


class StackError(IocError):
    """The private stack could not be started, checked or stopped."""


class PortInUseError(StackError):
    def __init__(self, *, port: int, setting: str, service: str) -> None:
        super().__init__(
            f"port {port} needed by {service} is already in use; "
            f"free it or choose another with the setting {setting} (environment or .env)"
        )
        self.port = port
        self.setting = setting


class DataDirError(StackError):
    """A data directory we did not create, or cannot trust; never deleted, only reported."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"refusing to use data directory {path}: {reason}")
        self.path = path


class MigrationError(IocError):
    """A migration failed or the recorded history does not match the files."""
