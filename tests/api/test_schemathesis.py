"""The operators' API keeps to its own OpenAPI document (issue 15 point 8): schemathesis with
every check (`--checks all`) and an ops token, against a real server on each backend. Only
`make test-api` runs it (about a minute or two per backend); tests/api/schemathesis.toml says
what it generates and why some operations may answer 422 to schema-valid data."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from support import add_operator

pytestmark = [pytest.mark.api, pytest.mark.timeout(900)]

CONFIG = Path(__file__).with_name("schemathesis.toml")


async def test_every_operation_keeps_to_the_document(server, database_url):
    token = await add_operator(database_url, "ops")
    st = Path(sys.executable).with_name("st")
    process = await asyncio.create_subprocess_exec(
        str(st),
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.base_url}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {token}",
        "--no-color",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()  # the server answers in this loop meanwhile
    report = out.decode(errors="replace")
    print(report)
    assert process.returncode == 0, report[-15_000:]
