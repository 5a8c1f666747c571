"""Plugin sub-commands imported only when they are named on the command line.

Loading every ``ioc.commands`` and ``ioc.bench`` entry point up front imports the API, the
wall, scikit-learn and the video pipeline for every call: about 4 s of a 2-core machine's CPU
before ``ioc stack status`` prints a line, paid again by each process ``ioc demo`` starts. The
groups here list the plugins' names at once (from the entry-point metadata, no import) and
import one only when it is run or its help is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import typer
from typer.core import TyperGroup

# typer's own (vendored) click Command; typer does not export its type.
Command = Any
Loader = Callable[[], Command]


class LazyCommands(MutableMapping[str, Command]):
    """A group's ``commands`` mapping whose plugin entries are built on first access.

    Iterating (names, ``in``, typo suggestions) never imports; looking one up does. Help,
    which needs every command's text, imports them all, as before.
    """

    def __init__(self, loaded: MutableMapping[str, Command], pending: dict[str, Loader]) -> None:
        self._loaded = dict(loaded)
        self._pending = {k: v for k, v in pending.items() if k not in self._loaded}

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded and name in self._pending:
            self._loaded[name] = self._pending.pop(name)()
        return self._loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._pending.pop(name, None)
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if self._pending.pop(name, None) is None:
            del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from list(self._loaded)
        yield from list(self._pending)

    def __len__(self) -> int:
        return len(self._loaded) + len(self._pending)

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in self._pending


def lazy_group(loaders: Callable[[], dict[str, Loader]]) -> type[TyperGroup]:
    """A ``TyperGroup`` class (for ``typer.Typer(cls=...)``) that adds ``loaders()``' commands,
    in their order after the group's own, each imported on first use."""

    class _LazyGroup(TyperGroup):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.commands = LazyCommands(self.commands, loaders())

        def list_commands(self, ctx: Any) -> list[str]:
            return list(self.commands)  # names only: typer's own builds every command

    return _LazyGroup


def _noop() -> None:
    """Parent callback: keeps typer from collapsing a one-command app into that command."""


def build_subgroup(sub: typer.Typer, name: str) -> Command:
    """``sub`` as the click group typer builds for ``parent.add_typer(sub, name=name)``, so a
    plugin behaves exactly as it did when it was added eagerly."""
    parent = typer.Typer()
    parent.callback()(_noop)
    parent.add_typer(sub, name=name)
    return _child(parent, name)


def build_command(func: Callable[..., Any], name: str) -> Command:
    """``func`` as the click command typer builds for ``parent.command(name)(func)``."""
    parent = typer.Typer()
    parent.callback()(_noop)
    parent.command(name)(func)
    return _child(parent, name)


def _child(parent: typer.Typer, name: str) -> Command:
    group = typer.main.get_command(parent)
    if not isinstance(group, TyperGroup):  # pragma: no cover - typer's contract
        raise TypeError(f"typer built {type(group).__name__}, not a group")
    return group.commands[name]


def _entry_points(group: str) -> list[EntryPoint]:
    return sorted(entry_points(group=group), key=lambda ep: ep.name)


def typer_group_loaders(group: str) -> dict[str, Loader]:
    """Loaders of sub-command groups: each entry point of ``group`` names a ``typer.Typer``."""

    def loader(ep: EntryPoint) -> Loader:
        return lambda: build_subgroup(ep.load(), ep.name)

    return {ep.name: loader(ep) for ep in _entry_points(group)}


def function_command_loaders(group: str) -> dict[str, Loader]:
    """Loaders of single commands: each entry point of ``group`` names a command function."""

    def loader(ep: EntryPoint) -> Loader:
        return lambda: build_command(ep.load(), ep.name)

    return {ep.name: loader(ep) for ep in _entry_points(group)}
