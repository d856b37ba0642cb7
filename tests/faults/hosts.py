"""Machines for scale-out tests, on one machine: a private LAN (a bridge in the root network
namespace, a random 10.231.N.0/24) and hosts on it, each a network namespace plugged in by a
veth pair, with a hostname of its own (a UTS namespace per process started there).

The root namespace plays the database machine and the platform: it holds the LAN's first
address, where the test's PostgreSQL and Redis listen, and reaches every host at its address.
A host can die (every process in its namespace SIGKILLed) or be cut off the LAN (its cable
pulled: the bridge side of its veth down, so packets vanish without a reset, as in a network
partition). Needs root and iproute2 (`ip netns`).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv4Network
from pathlib import Path


class NetnsUnavailable(RuntimeError):
    """This machine cannot make network namespaces (no iproute2, or not allowed to)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result


@dataclass
class Host:
    """One machine on the LAN: `address` is where the others reach it."""

    name: str  # its hostname (what pipeline owners and the heartbeat table show)
    namespace: str
    cable: str  # the bridge side of its veth pair
    address: IPv4Interface
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(
        self, argv: Sequence[str], env: Mapping[str, str], log_path: Path, cwd: Path
    ) -> subprocess.Popen[bytes]:
        """Run `argv` on this host, in a session of its own; output to `log_path`."""
        # `ip netns exec` and `unshare` exec in place: the Popen's pid is the program's.
        command = [
            *("ip", "netns", "exec", self.namespace, "unshare", "--uts", "--"),
            *("sh", "-c", 'hostname "$0" && exec "$@"', self.name, *argv),
        ]
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                env=dict(env),
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def pids(self) -> list[int]:
        listed = _ip("netns", "pids", self.namespace, check=False).stdout.split()
        return [int(pid) for pid in listed]

    def kill(self) -> None:
        """The machine dies: SIGKILL to every process on it, at once."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(30)

    def unplug(self) -> None:
        """Cut the host off the LAN; its processes live on, talking to nobody."""
        _ip("link", "set", self.cable, "down")

    def plug(self) -> None:
        _ip("link", "set", self.cable, "up")


class Lan:
    """A bridge in the root namespace at `gateway` (the LAN's .1) and the hosts added to it.
    `close()` removes everything it made, whatever state the test left it in."""

    def __init__(self) -> None:
        if shutil.which("ip") is None:
            raise NetnsUnavailable("iproute2's `ip` is not installed (apt-get install iproute2)")
        self.tag = uuid.uuid4().hex[:6]  # interface names are at most 15 characters
        _probe_netns(f"livedesk-{self.tag}-probe")
        self.network = self._free_network()
        self.gateway = IPv4Interface(f"{self.network[1]}/{self.network.prefixlen}")
        self.bridge = f"ld{self.tag}br"
        self.hosts: list[Host] = []
        _ip("link", "add", self.bridge, "type", "bridge")
        try:
            _ip("address", "add", str(self.gateway), "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        except Exception:
            self.close()
            raise

    @staticmethod
    def _free_network() -> IPv4Network:
        in_use = _ip("-4", "route", "show").stdout + _ip("-4", "address", "show").stdout
        candidates = list(range(256))
        random.shuffle(candidates)
        for n in candidates:
            if f"10.231.{n}." not in in_use:
                return IPv4Network(f"10.231.{n}.0/24")
        raise RuntimeError("no free 10.231.N.0/24 for the test LAN")

    def add_host(self, name: str) -> Host:
        """A new machine called `name` on the LAN, at the next free address."""
        number = len(self.hosts)
        namespace = f"livedesk-{self.tag}-{number}"
        cable = f"ld{self.tag}h{number}"
        address = IPv4Interface(f"{self.network[number + 2]}/{self.network.prefixlen}")
        host = Host(name, namespace, cable, address)
        self.hosts.append(host)
        _ip("netns", "add", namespace)
        _ip("link", "add", cable, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("link", "set", cable, "master", self.bridge, "up")
        _ip("-n", namespace, "address", "add", str(address), "dev", "eth0")
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        return host

    def remove(self, host: Host) -> None:
        """Kill whatever runs on the host and take it off the LAN for good."""
        host.kill()
        _ip("netns", "delete", host.namespace, check=False)
        _ip("link", "delete", host.cable, check=False)  # gone with the namespace, usually

    def close(self) -> None:
        for host in self.hosts:
            self.remove(host)
        _ip("link", "delete", self.bridge, check=False)


def _probe_netns(name: str) -> None:
    """NetnsUnavailable unless this process may make a network namespace."""
    result = _ip("netns", "add", name, check=False)
    if result.returncode != 0:
        raise NetnsUnavailable(f"`ip netns add` failed: {result.stderr.strip()}")
    _ip("netns", "delete", name)
