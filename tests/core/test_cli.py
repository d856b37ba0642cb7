"""The `livedesk` command as an operator uses it, in a real subprocess."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from support import run_server, settings_for

REPO = Path(__file__).resolve().parents[2]
LIVEDESK = str(Path(sys.executable).with_name("livedesk"))


async def run(args: list[str], database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The command in a thread: the session's live server shares this event loop (and, on
    SQLite, the database file), so blocking the loop could leave it holding the write lock."""
    return await asyncio.to_thread(
        subprocess.run,
        [LIVEDESK, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "LIVEDESK_DATABASE_URL": database_url, **env},
        timeout=60,
    )


async def test_user_add_prints_the_token_alone_on_the_last_line(database_url):
    name = f"anchor-{uuid.uuid4().hex[:8]}"
    result = await run(["user", "add", name, "--role", "host"], database_url)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("ld_") and " " not in token and len(token) > 30


async def test_user_add_rejects_an_unknown_role(database_url):
    result = await run(["user", "add", "someone", "--role", "boss"], database_url)
    assert result.returncode != 0
    assert "role" in result.stderr


@pytest.mark.parametrize("args", [["check-rules"], ["check-rules", "rules"]])
async def test_check_rules_accepts_the_shipped_rules(args, database_url):
    result = await run(args, database_url)
    assert result.returncode == 0, result.stderr


def _broken_rules(tmp_path: Path) -> tuple[Path, int]:
    """A copy of the shipped rules with one bad value on a known line of tiers.yaml."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    lines = (rules / "tiers.yaml").read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith("min_orders:"))
    lines[index] = lines[index].split("min_orders:")[0] + "min_orders: lots"
    (rules / "tiers.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rules, index + 1


async def test_check_rules_names_file_line_and_reason_of_a_bad_rule(tmp_path, database_url):
    rules, line = _broken_rules(tmp_path)
    result = await run(["check-rules", str(rules)], database_url)
    assert result.returncode == 1
    assert f"tiers.yaml:{line}" in result.stderr
    assert "integer" in result.stderr


async def test_the_server_refuses_to_start_on_a_bad_rule(tmp_path, database_url):
    rules, line = _broken_rules(tmp_path)
    result = await run(["serve", "--port", "0"], database_url, LIVEDESK_RULES_DIR=str(rules))
    assert result.returncode != 0
    assert f"tiers.yaml:{line}" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["serve", "--pipeline-processes", "1"], {}, "needs LIVEDESK_REDIS_URL"),
        (
            ["serve", "--pipeline-processes", "1"],
            {"LIVEDESK_REDIS_URL": "redis://127.0.0.1:6379/0"},
            "SQLite is for one process",
        ),
        (["pipeline"], {}, "needs LIVEDESK_REDIS_URL and PostgreSQL"),
    ],
)
async def test_pipeline_processes_need_redis_and_postgresql(args, env, says):
    """Out of the web workers the pipeline hears of new events over Redis only, and SQLite
    is one process's database."""
    result = await run([*args], "sqlite+aiosqlite:///./never-created.db", **env)
    assert result.returncode == 2
    assert says in " ".join(result.stderr.split())


@pytest.mark.parametrize(
    "args",
    [["user", "add", "first-ops", "--role", "ops"], ["import-customers", "CRM"]],
    ids=["user-add", "import-customers"],
)
async def test_commands_before_migrate_say_run_migrate_first(args, tmp_path):
    """A newcomer who skips `livedesk migrate` reads the fix, not a page of traceback."""
    crm = str(REPO / "rules" / "examples" / "crm_customers.csv")
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    result = await run([crm if a == "CRM" else a for a in args], url)
    assert result.returncode == 1
    assert "run `livedesk migrate` first" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.splitlines()) <= 3, result.stderr


async def test_the_server_on_an_unmigrated_database_is_not_ready_and_says_why(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    async with run_server(settings_for(url)) as live, httpx.AsyncClient() as client:
        response = await client.get(f"{live.base_url}/readyz")
    assert response.status_code == 503
    assert "run `livedesk migrate` first" in response.json()["database"]
