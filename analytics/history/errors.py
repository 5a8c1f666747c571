"""History-import errors: every bad row named by its line, so a file can be fixed in one pass."""

from __future__ import annotations

from ioc_core.errors import IocError

MAX_PROBLEMS = 50  # enough to see the pattern, not a wall of text


class HistoryInputError(IocError):
    """A history file with bad rows; nothing of it was imported."""

    def __init__(self, path: str, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS]
        more = f"\n... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__(f"{path}: {len(problems)} bad row(s), nothing imported:\n"
                         + "\n".join(shown) + more)  # fmt: skip
        self.path = path
        self.problems = problems
