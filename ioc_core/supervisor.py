"""A small process supervisor for ``ioc demo``: start children, watch them, stop them all.

Children run in their own sessions so a terminal's Ctrl-C reaches only the supervisor, which
then stops them in order (producers first) and waits, leaving no process behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class Child:
    name: str
    argv: list[str]
    log_file: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)


class Supervisor:
    def __init__(self, *, env: dict[str, str] | None = None) -> None:
        self.children: list[Child] = []
        self.env = env or dict(os.environ)

    def start(self, name: str, argv: list[str], log_file: Path) -> Child:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("ab") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        child = Child(name, argv, log_file, proc)
        self.children.append(child)
        return child

    def dead(self) -> list[Child]:
        return [c for c in self.children if c.proc is not None and c.proc.poll() is not None]

    def stop_all(self, *, timeout: float = 15.0) -> None:
        """SIGTERM in reverse start order, then SIGKILL whatever is left, then reap."""
        for child in reversed(self.children):
            if child.proc and child.proc.poll() is None:
                self._signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in reversed(self.children):
            if not child.proc:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop on SIGTERM; killing it", child.name)
                self._signal_group(child.proc, signal.SIGKILL)
                child.proc.wait(timeout=5)

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        # The child leads its own session, so its group holds anything it forked (uvicorn's
        # workers, for instance) and nothing of anyone else's.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
