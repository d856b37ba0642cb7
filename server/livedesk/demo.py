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
from sqlalchemy.engine import make_url

from livedesk.auth import service as auth
from livedesk.core.children import dying_with_parent
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.core.migrations import upgrade
from livedesk.core.settings import DEMO_WEBHOOK_SECRETS, Settings
from livedesk.fulfilment.receiver import PATH as RECEIVER_PATH

console = Console()
ROOM_ID = "demo-room"
DEMO_TITLE = "春季美妆专场（演示）"
HOST, PORT = "127.0.0.1", 8000
RECEIVER_PORT = 8001
DEMO_DATABASE_URL = "sqlite+aiosqlite:///./livedesk-demo.db"


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


def _wait_ready(base_url: str, server: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
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


def _sqlite_file(database_url: str) -> Path | None:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _fresh_start(database_url: str) -> None:
    """Offer a fresh session when the last demo's data is still there (deleting only the demo's
    own SQLite file): a re-run that silently went on with yesterday's room confused people."""
    path = _sqlite_file(database_url)
    if path is None or not path.exists():
        return
    if os.environ.get("LIVEDESK_DEMO_CONTINUE") == "1":
        console.print(f"continuing the last demo session ({path})")
        return
    if sys.stdin.isatty():
        answer = console.input(
            f"上次的演示数据还在（{path}）。重新开始一场新的直播？ Start a fresh session? [Y/n] "
        )
        if answer.strip().lower() in ("n", "no", "否"):
            return
    else:
        console.print(f"starting a fresh demo session (LIVEDESK_DEMO_CONTINUE=1 keeps {path})")
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)


def _child(args: list[str]) -> subprocess.Popen[bytes]:
    """A process of the demo's own, out of the terminal's process group: Ctrl-C reaches only
    the demo, which then stops its children in order (no interleaved tracebacks), and they die
    with it if it is killed."""
    return subprocess.Popen(args, start_new_session=True, preexec_fn=dying_with_parent())


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> None:
    try:
        _run()
    except KeyboardInterrupt:
        console.print("\n演示已结束 · demo stopped")


def _run() -> None:
    os.environ.setdefault("LIVEDESK_DEMO_MODE", "1")
    # The demo's own database file, so a fresh start never touches ./livedesk.db.
    os.environ.setdefault("LIVEDESK_DATABASE_URL", DEMO_DATABASE_URL)
    port = int(os.environ.get("LIVEDESK_DEMO_PORT", PORT))
    receiver_port = int(os.environ.get("LIVEDESK_DEMO_RECEIVER_PORT", RECEIVER_PORT))
    receiver_url = f"http://{HOST}:{receiver_port}"
    # The server signs with the demo fulfilment secret and the receiver checks it (demo mode).
    os.environ.setdefault("LIVEDESK_FULFILMENT_URL", f"{receiver_url}{RECEIVER_PATH}")
    settings = Settings()
    _fresh_start(settings.database_url)
    upgrade(settings.database_url)
    tokens = asyncio.run(_seed_operators(settings.database_url))
    example = settings.rules_dir / "examples" / "crm_customers.csv"
    livedesk = str(Path(sys.executable).with_name("livedesk"))
    if example.exists():
        importer = _child([livedesk, "import-customers", str(example)])
        try:
            if importer.wait() != 0:
                raise SystemExit("importing the demo customers failed; see above")
        finally:
            _stop(importer)
    base_url = f"http://{HOST}:{port}"
    receiver_app = "livedesk.fulfilment.receiver:demo_app"
    receiver_args = ["--host", HOST, "--port", str(receiver_port), "--log-level", "warning"]
    receiver = server = None
    try:
        receiver = _child(
            [sys.executable, "-m", "uvicorn", "--factory", receiver_app, *receiver_args]
        )
        server = _child([livedesk, "serve", "--host", HOST, "--port", str(port)])
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
        from livedesk.simulator.streaming import simulate

        asyncio.run(
            simulate(
                base_url,
                DEMO_WEBHOOK_SECRETS["generic"],
                ROOM_ID,
                rate_per_s=25,
                duration_s=None,
                seed=7,
                # As ops: more CRM members, and viewers who react to rains and coupons; and
                # 开播 before the first viewer, with the rundown of what it pitches.
                ops_token=tokens["ops"],
                show_title=DEMO_TITLE,
            )
        )
    finally:
        _stop(server)
        _stop(receiver)


if __name__ == "__main__":
    main()
