"""What every ``ioc`` command shares: settings and the way errors reach the operator."""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from pydantic import ValidationError

from ioc_core.errors import IocError
from ioc_core.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")


def settings_from_env() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"IOC_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise IocError(f"invalid settings: {problems}") from exc


def fail_cleanly(func: Callable[P, R]) -> Callable[P, R]:
    """Known errors become one clear line on stderr and exit code 1, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except IocError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from exc

    return wrapper


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM, for loops that must finish their batch and exit."""
    stop = threading.Event()

    def _set(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _set)
    signal.signal(signal.SIGTERM, _set)
    return stop
