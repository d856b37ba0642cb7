"""Real `livedesk serve` processes for multi-worker and crash tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support import REDIS_URL, free_port

REPO = Path(__file__).resolve().parents[2]
LIVEDESK = str(Path(sys.executable).with_name("livedesk"))
SECRETS = "generic=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw,douyin=douyin-test-secret"


class ServerProcess:
    def __init__(
        self,
        port: int,
        database_url: str,
        redis_url: str | None,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ):
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        env = {
            **os.environ,
            "LIVEDESK_DATABASE_URL": database_url,
            "LIVEDESK_RULES_DIR": str(REPO / "rules"),
            "LIVEDESK_WEBHOOK_SECRETS": SECRETS,
            "LIVEDESK_PIPELINE_POLL_INTERVAL_S": "0.3",
        }
        if redis_url:
            env["LIVEDESK_REDIS_URL"] = redis_url
        env.update(extra_env or {})  # other LIVEDESK_* settings, e.g. for the fault tests
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [LIVEDESK, "serve", "--port", str(port), *args],
            env=env,
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.log_path = log_path

    def wait_ready(self, timeout_s: float = 120) -> None:
        # Generous: on a busy 2-core machine a `serve` with workers and pipeline processes
        # took over 30 s to answer (imports, the sentiment model), and that is no failure.
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"server not ready: {self.log_path.read_text()[-2000:]}")

    def children(self) -> list[int]:
        """The processes `serve` started itself (pipeline processes, uvicorn's workers)."""
        tasks = Path(f"/proc/{self.process.pid}/task")
        pids: list[int] = []
        for task in tasks.iterdir():
            pids.extend(int(pid) for pid in (task / "children").read_text().split())
        return pids

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(60)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def with_a_pipeline_process(database_url: str, log_path: Path) -> ServerProcess:
    """`livedesk serve --pipeline-processes 1`: one web worker, one pipeline process."""
    if not database_url.startswith("postgresql"):
        pytest.skip("pipeline processes need PostgreSQL")
    args = ("--pipeline-processes", "1")
    return ServerProcess(free_port(), database_url, REDIS_URL, log_path, args=args)
