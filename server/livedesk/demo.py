"""`make demo`: migrate, seed operators and customers, start the server and a live simulator.

Runs on a bare machine: SQLite, the in-process bus and the demo webhook secrets. Grants go out
as signed webhooks to a built-in receiver (`livedesk.fulfilment.receiver`) on its own port,
standing in for the brand's system: it checks each signature and dedupes by webhook-id.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.panel import Panel

from livedesk.auth import service as auth
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.core.migrations import REPO_ROOT, upgrade
from livedesk.core.settings import DEMO_WEBHOOK_SECRETS, Settings
from livedesk.fulfilment.receiver import PATH as RECEIVER_PATH

console = Console()
ROOM_ID = "demo-room"
HOST, PORT = "127.0.0.1", 8000
RECEIVER_PORT = 8001


async def _seed_operators(database_url: str) -> dict[str, str]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            tokens = {}
            for name, role in (("demo-host", "host"), ("demo-ops", "ops")):
                _operator, tokens[role] = await auth.rotate_operator(session, name, role)
            await commit(session)
            return tokens
    finally:
        await engine.dispose()


def _wait_ready(base_url: str, server: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited during start-up; see the log above")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready in time")


def main() -> None:
    os.environ.setdefault("LIVEDESK_DEMO_MODE", "1")
    receiver_url = f"http://{HOST}:{RECEIVER_PORT}"
    # The server signs with the demo fulfilment secret and the receiver checks it (demo mode).
    os.environ.setdefault("LIVEDESK_FULFILMENT_URL", f"{receiver_url}{RECEIVER_PATH}")
    settings = Settings()
    upgrade(settings.database_url)
    tokens = asyncio.run(_seed_operators(settings.database_url))
    example = REPO_ROOT / "rules" / "examples" / "crm_customers.csv"
    livedesk = str(Path(sys.executable).with_name("livedesk"))
    if example.exists():
        subprocess.run([livedesk, "import-customers", str(example)], check=True)
    base_url = f"http://{HOST}:{PORT}"
    receiver_app = "livedesk.fulfilment.receiver:demo_app"
    receiver_args = ["--host", HOST, "--port", str(RECEIVER_PORT), "--log-level", "warning"]
    receiver = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", receiver_app, *receiver_args]
    )
    server = subprocess.Popen([livedesk, "serve", "--host", HOST, "--port", str(PORT)])
    try:
        _wait_ready(base_url, server)
        console.print(
            Panel.fit(
                f"[bold]主播提词器 Host[/bold]  {base_url}/host/{ROOM_ID}\n"
                f"    token: [cyan]{tokens['host']}[/cyan]\n"
                f"[bold]运营控制台 Ops[/bold]   {base_url}/ops/{ROOM_ID}\n"
                f"    token: [cyan]{tokens['ops']}[/cyan]\n"
                f"[bold]复盘报告 Report[/bold] {base_url}/rooms/{ROOM_ID}/report\n"
                f"[bold]履约接收 Receiver[/bold] {receiver_url}/  (grants as delivered)\n\n"
                f"Sign in at {base_url}/login with a token. Ctrl-C stops everything.",
                title="livedesk demo",
            )
        )
        from livedesk.simulator.sender import simulate

        asyncio.run(
            simulate(
                base_url,
                DEMO_WEBHOOK_SECRETS["generic"],
                ROOM_ID,
                rate_per_s=25,
                duration_s=None,
                seed=7,
                # As ops: more CRM members, and viewers who react to rains and coupons.
                ops_token=tokens["ops"],
            )
        )
    except KeyboardInterrupt:
        pass
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(15)


if __name__ == "__main__":
    main()
