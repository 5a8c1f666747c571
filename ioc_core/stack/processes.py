"""Process bookkeeping for the private stack: ports, pid files, users, waiting.

``down`` must stop exactly what ``up`` started and nothing else, so every process we start is
recorded in a pid file together with a marker (its data or config path) that must appear in its
command line before we signal it: a recycled pid belonging to someone else is never killed.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ioc_core.errors import PortInUseError, StackError


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR as PostgreSQL and Mosquitto set it: a port whose old connections sit in
        # TIME_WAIT after a `down` is free for them, and must not be reported as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_port(host: str, port: int, *, setting: str, service: str) -> None:
    if not port_is_free(host, port):
        raise PortInUseError(port=port, setting=setting, service=service)


# Below Linux's ephemeral range (32768-60999 by default): a port the kernel hands out for
# port 0 is also what it hands to outgoing connections, so one picked there early can be taken
# by some client's local end before our server binds it.
_FREE_PORT_RANGE = (20_000, 32_000)


def free_port(host: str = "127.0.0.1") -> int:
    """A free port outside the ephemeral range (tests and benchmarks use it for their stacks)."""
    for _ in range(200):
        port = random.randrange(*_FREE_PORT_RANGE)
        if port_is_free(host, port):
            return port
    raise StackError(f"no free port found in {_FREE_PORT_RANGE} on {host}")


@dataclass(frozen=True)
class ServiceUser:
    """Who a service process runs as: root may not run PostgreSQL, so root hands it over."""

    name: str
    uid: int
    gid: int
    home: str

    @classmethod
    def for_service(cls, wanted: str) -> ServiceUser | None:
        """``None`` means "run as ourselves" (we are not root)."""
        if os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(wanted)
        except KeyError as exc:
            raise StackError(
                f"running as root, but the system user '{wanted}' that should own the service "
                f"does not exist; install the package that creates it (make setup)"
            ) from exc
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)

    def popen_kwargs(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def chown(self, *paths: Path) -> None:
        for path in paths:
            os.chown(path, self.uid, self.gid)

    def check_can_reach(self, path: Path) -> None:
        """Every parent of ``path`` must be traversable by the service user."""
        result = subprocess.run(
            ["test", "-x", str(path)],
            check=False,
            **self.popen_kwargs(),
        )
        if result.returncode != 0:
            raise StackError(
                f"user '{self.name}' cannot reach {path}: a parent folder is not traversable. "
                f"Put the stack's data elsewhere with IOC_VAR_DIR (e.g. IOC_VAR_DIR=/var/tmp/ioc)"
            )


class PidFile:
    """A pid we started plus the marker that must be in its command line to be ours."""

    def __init__(self, path: Path, marker: str) -> None:
        self.path = path
        self.marker = marker

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{pid}\n")

    def read(self) -> int | None:
        try:
            return int(self.path.read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def live_pid(self) -> int | None:
        """The recorded pid if that process is alive and is really ours, else ``None``."""
        pid = self.read()
        if pid is None or not pid_alive(pid):
            return None
        return pid if self.marker in cmdline(pid) else None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is dead for our purposes.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_until(check: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


def terminate(pid: int, *, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it will not go; used only on pids a PidFile vouched for."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_until(lambda: not pid_alive(pid), timeout=timeout):
        _reap(pid)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), timeout=5)
    _reap(pid)


def _reap(pid: int) -> None:
    """Collect our own child's exit status so a long-lived parent (tests, demo) leaves no zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"
