"""The `livedesk` command as an operator uses it, in a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

LIVEDESK = str(Path(sys.executable).with_name("livedesk"))


def run(args: list[str], database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LIVEDESK, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "LIVEDESK_DATABASE_URL": database_url, **env},
        timeout=60,
    )


def test_user_add_prints_the_token_alone_on_the_last_line(database_url):
    name = f"anchor-{uuid.uuid4().hex[:8]}"
    result = run(["user", "add", name, "--role", "host"], database_url)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("ld_") and " " not in token and len(token) > 30


def test_user_add_rejects_an_unknown_role(database_url):
    result = run(["user", "add", "someone", "--role", "boss"], database_url)
    assert result.returncode != 0
    assert "role" in result.stderr


@pytest.mark.parametrize("args", [["check-rules"], ["check-rules", "rules"]])
def test_check_rules_accepts_the_shipped_rules(args, database_url):
    result = run(args, database_url)
    assert result.returncode == 0, result.stderr
