"""The private PostgreSQL 15 + TimescaleDB cluster.

Settings that depend on configuration (port, socket directory, listen address) are passed on the
command line at every start rather than written into postgresql.conf once, so changing
``IOC_PG_PORT`` takes effect on the next ``up`` with no stale file to edit.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ioc_core.errors import DataDirError, StackError
from ioc_core.settings import Settings
from ioc_core.stack.processes import PidFile, ServiceUser, tail, terminate, wait_until

log = logging.getLogger(__name__)

PG_MAJOR = "15"
MARKER = "CREATED_BY_IOC"
SETUP_HINT = "run `make setup` (or: apt-get install postgresql-15 postgresql-server-dev-15)"

# Tuned for a 2-core, 24 GiB machine that ingests tens of thousands of readings a second:
# larger WAL between checkpoints keeps checkpoint I/O from stalling COPY; fsync and
# synchronous_commit stay on because "acknowledged" must mean "durable".
SERVER_OPTIONS = {
    "shared_preload_libraries": "timescaledb",
    "timescaledb.telemetry_level": "off",  # no phoning home: the city network is closed
    "shared_buffers": "1GB",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "wal_compression": "on",
    "max_connections": "200",
    "log_min_duration_statement": "2000",
}


class PostgresService:
    name = "postgres"

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.root = settings.var_dir / "postgres"
        self.data = settings.pg_data_dir
        self.socket_dir = settings.run_dir / "postgres"
        self.log_file = settings.log_dir / "postgres.log"
        self.pidfile = PidFile(settings.run_dir / "postgres.pid", marker=str(self.data))
        self.user = ServiceUser.for_service("postgres")

    def _bin(self, name: str) -> str:
        path = self.s.pg_bin_dir / name
        if not path.exists():
            raise StackError(f"{path} not found; {SETUP_HINT}")
        return str(path)

    def check_installed(self) -> None:
        self._bin("initdb")
        pkglibdir = subprocess.run(
            [self._bin("pg_config"), "--pkglibdir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if not any(Path(pkglibdir).glob("timescaledb*.so")):
            raise StackError(
                f"the TimescaleDB extension is not installed in {pkglibdir}; "
                "run `make setup` (it builds TimescaleDB from Debian's source package)"
            )

    def running_pid(self) -> int | None:
        return self.pidfile.live_pid()

    def _run(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        extra = self.user.popen_kwargs() if self.user else {}
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=False,
            **extra,
            **kwargs,
        )

    def _validate_existing(self) -> bool:
        """True if an initialised cluster of ours is there; raise if something else is."""
        if not self.data.exists() or not any(self.data.iterdir()):
            return False
        version_file = self.data / "PG_VERSION"
        if not version_file.exists():
            raise DataDirError(self.data, "it is not empty and holds no PostgreSQL cluster")
        version = version_file.read_text().strip()
        if version != PG_MAJOR:
            raise DataDirError(
                self.data, f"it holds a PostgreSQL {version} cluster, not {PG_MAJOR}"
            )
        if not (self.root / MARKER).exists():
            raise DataDirError(self.data, f"it was not created by `ioc stack up` (no {MARKER})")
        return True

    def _initdb(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.data.chmod(0o700)
        if self.user:
            self.user.chown(self.root, self.data)
            self.user.check_can_reach(self.data)
        log.info("initialising a new cluster in %s", self.data)
        result = self._run(
            [
                self._bin("initdb"), "-D", str(self.data), "-U", self.s.pg_user,
                "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8",
            ]
        )  # fmt: skip
        if result.returncode != 0:
            raise StackError(f"initdb failed for {self.data}:\n{result.stderr or result.stdout}")
        # Trust only on loopback and the private socket; the cluster never listens elsewhere.
        (self.root / MARKER).write_text("initialised by ioc stack up\n")

    def start(self) -> int:
        self.check_installed()
        if not self._validate_existing():
            self._initdb()
        for folder in (self.socket_dir, self.log_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
        if self.user:
            self.user.chown(self.socket_dir)
            self.log_file.touch()
            self.user.chown(self.log_file)
        options = {
            **SERVER_OPTIONS,
            "port": str(self.s.pg_port),
            "listen_addresses": self.s.pg_host,
            "unix_socket_directories": str(self.socket_dir),
        }
        opts = " ".join(f"-c {k}={v}" for k, v in options.items())
        result = self._run(
            [
                self._bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log_file),
                "-w", "-t", "60", "-o", opts, "start",
            ],
            start_new_session=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise StackError(
                f"PostgreSQL did not start from {self.data} (the directory is left as it is). "
                f"pg_ctl said: {result.stderr.strip() or result.stdout.strip()}\n"
                f"last lines of {self.log_file}:\n{tail(self.log_file)}"
            )
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        self.pidfile.write(pid)
        self._bootstrap_database()
        return pid

    def _bootstrap_database(self) -> None:
        """The application database; created here because migrations need somewhere to run."""
        admin = self.s.dsn_for("postgres")
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.s.pg_database,)
            ).fetchone()
            if not exists:
                conn.execute(
                    sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.s.pg_database))
                )

    def stop(self) -> bool:
        pid = self.running_pid()
        if pid is None:
            self.pidfile.clear()
            return False
        result = self._run(
            [self._bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"]
        )
        if result.returncode != 0 or not wait_until(lambda: self.running_pid() is None, timeout=5):
            log.warning("pg_ctl stop failed (%s); terminating pid %s", result.stderr.strip(), pid)
            terminate(pid)
        self.pidfile.clear()
        return True
