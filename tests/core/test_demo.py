"""`make demo` for a newcomer (issue 20, point 12): Ctrl-C stops it without a traceback, and a
second run starts a fresh session instead of silently continuing the last one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support import REPO, free_port

# The demo is a server, a simulator and a CRM import in processes of their own.
pytestmark = pytest.mark.slow


def _start(cwd: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "LIVEDESK_RULES_DIR": str(REPO / "rules"),
        "LIVEDESK_DEMO_PORT": str(free_port()),
        "LIVEDESK_DEMO_RECEIVER_PORT": str(free_port()),
        "COLUMNS": "200",
    }
    env.pop("LIVEDESK_DATABASE_URL", None)
    # Its own process group, like a terminal's foreground job: Ctrl-C goes to the whole group.
    return subprocess.Popen(
        [sys.executable, "-m", "livedesk.demo"],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


class Output:
    """Everything the demo printed, read by a thread (a pipe left unread would block it)."""

    def __init__(self, demo: subprocess.Popen[str]):
        assert demo.stdout is not None
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(demo.stdout), daemon=True)
        self.reader.start()

    @property
    def text(self) -> str:
        return "".join(self.lines)


def _until_streaming(demo: subprocess.Popen[str], output: Output, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while "Ctrl-C stops everything" not in output.text:
        assert demo.poll() is None, f"the demo exited early:\n{output.text}"
        assert time.monotonic() < deadline, f"the demo never came up:\n{output.text}"
        time.sleep(0.2)
    time.sleep(3)  # a few seconds of the simulated stream


def _ctrl_c(demo: subprocess.Popen[str], output: Output) -> None:
    os.killpg(demo.pid, signal.SIGINT)
    demo.wait(timeout=60)
    output.reader.join(timeout=10)


def test_ctrl_c_stops_the_demo_quietly_and_a_rerun_starts_fresh(tmp_path: Path) -> None:
    first = _start(tmp_path)
    output = Output(first)
    try:
        _until_streaming(first, output)
        _ctrl_c(first, output)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert "Traceback" not in output.text, output.text
    assert "demo stopped" in output.text
    assert first.returncode == 0
    assert (tmp_path / "livedesk-demo.db").exists()
    assert not (tmp_path / "livedesk.db").exists(), "the demo keeps to its own database"

    second = _start(tmp_path)
    output = Output(second)
    try:
        _until_streaming(second, output)
        _ctrl_c(second, output)
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
    assert "starting a fresh demo session" in output.text
    assert "Traceback" not in output.text, output.text
