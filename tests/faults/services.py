"""Throwaway Redis and PostgreSQL servers that the fault tests may kill, freeze and restart.

Each runs on a spare port with its files in a temporary directory; the shared instances
(127.0.0.1:5432 and :6379) are never touched. PostgreSQL refuses to run as root, so when the
suite runs as root its binaries run as the `postgres` OS user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from ipaddress import IPv4Interface
from pathlib import Path

from support import free_port


def _wait_port(port: int, timeout_s: float, alive: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if alive is not None and alive.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {alive.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout_s}s")


class RedisServer:
    """`redis-server` without persistence: a restart comes back empty. `also_on`: an address
    to listen on beside 127.0.0.1 (the other hosts' side of a test LAN)."""

    def __init__(self, workdir: Path, also_on: IPv4Interface | None = None):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found (apt-get install redis-server)")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._addresses = ["127.0.0.1", *([str(also_on.ip)] if also_on else [])]
        self.process: subprocess.Popen[bytes] | None = None
        self._frozen = False

    def url_at(self, address: str) -> str:
        return f"redis://{address}:{self.port}/0"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                self.binary,
                *("--port", str(self.port), "--bind", *self._addresses),
                # No password on a throwaway: let the LAN's hosts in (protected mode refuses
                # every connection from outside the loopback then).
                *("--protected-mode", "no" if len(self._addresses) > 1 else "yes"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        _wait_port(self.port, 10, self.process)

    def kill(self) -> None:
        """SIGKILL: every connection drops, everything in memory is gone."""
        if self.process is not None and self.process.poll() is None:
            if self._frozen:
                self.thaw()
            self.process.kill()
            self.process.wait(10)

    def restart_empty(self) -> None:
        self.kill()
        self.start()

    def freeze(self) -> None:
        """SIGSTOP: connections stay open (the kernel even accepts new ones) but nothing
        answers, the failure a timeout-less client hangs on forever."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self._frozen = True

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self._frozen = False

    def ensure_running(self) -> None:
        if self._frozen:
            self.thaw()
        if self.process is None or self.process.poll() is not None:
            self.start()

    def close(self) -> None:
        self.kill()


def _postgres_bin() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    return Path(on_path).parent


class PostgresCluster:
    """A private cluster made with initdb: trust auth, socket in its own directory, and
    `fsync=off` for speed (a killed *process* still leaves its writes in the OS cache; what a
    fault here must not lose is what PostgreSQL acknowledged, so commits stay synchronous).
    `also_on`: an address to listen on beside 127.0.0.1, trusting its network's clients (the
    other hosts of a test LAN)."""

    def __init__(self, also_on: IPv4Interface | None = None) -> None:
        self.bin = _postgres_bin()
        self.port = free_port()
        # Not under pytest's tmp dirs: those are root-only, and the postgres user needs in.
        self.root = Path(tempfile.mkdtemp(prefix="livedesk-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._also_on = also_on

    def url(self, database: str, address: str = "127.0.0.1") -> str:
        return f"postgresql+asyncpg://postgres@{address}:{self.port}/{database}"

    def _run(self, *args: str, timeout_s: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({result.returncode}): "
                f"{result.stdout.decode()[-1000:]}{result.stderr.decode()[-1000:]}"
            )

    def init(self) -> None:
        self._run(
            "initdb",
            *("-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"),
            "--no-locale",
            "--no-sync",
        )
        if self._also_on is not None:
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self._also_on.network} trust\n")

    def start(self) -> None:
        addresses = ["127.0.0.1", *([str(self._also_on.ip)] if self._also_on else [])]
        options = " ".join(
            [
                f"-p {self.port}",
                f"-c listen_addresses={','.join(addresses)}",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
                "-c shared_buffers=64MB",
                # So a test can count the statements the server ran (e.g. per reconnect).
                "-c shared_preload_libraries=pg_stat_statements",
            ]
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        """`immediate`: every backend dies at once, as when the database host goes away."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def ensure_running(self) -> None:
        if not self.running():
            self.start()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.running():
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
