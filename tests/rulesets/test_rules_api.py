"""Applying rules through the operators' API and the CLI: valid sets become the version in
force, invalid ones change nothing and report every error with file and line."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from livedesk.rulebook.book import load_rulebook
from support import REPO, add_operator, run_server, settings_for

LIVEDESK = str(Path(sys.executable).with_name("livedesk"))


def _files() -> dict[str, str]:
    return dict(load_rulebook(REPO / "rules").files)


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


async def test_the_api_applies_only_valid_sets_and_keeps_every_version_readable(
    private_database_url: str,
) -> None:
    files = _files()
    bad = dict(files)
    bad["red_packets.yaml"] = files["red_packets.yaml"].replace(
        "title: 陪伴盲盒", "title: 第一盲盒"
    )
    bad["tiers.yaml"] = files["tiers.yaml"].replace("window_days: 365", "window_days: lots")
    good = dict(files)
    good["products.yaml"] = files["products.yaml"].replace("29900", "19900")
    async with run_server(settings_for(private_database_url)) as live:
        ops = {"Authorization": f"Bearer {await add_operator(private_database_url, 'ops')}"}
        host = {"Authorization": f"Bearer {await add_operator(private_database_url, 'host')}"}
        async with httpx.AsyncClient(base_url=live.base_url, headers=ops) as client:
            before = (await client.get("/api/v1/rules")).json()
            checked = (await client.post("/api/v1/rules/check", json={"files": bad})).json()
            refused = await client.post("/api/v1/rules/apply", json={"files": bad, "label": "x"})
            unchanged = (await client.get("/api/v1/rules")).json()
            applied = await client.post(
                "/api/v1/rules/apply", json={"files": good, "label": "大促"}
            )
            after = (await client.get("/api/v1/rules")).json()
            old = await client.get(f"/api/v1/rules/versions/{before['in_force']['version']}")
            as_host = await client.post("/api/v1/rules/apply", json={}, headers=host)
    # First start: the rules directory is the version in force.
    assert before["in_force"]["applied_by"] == "first start"
    assert [v["version"] for v in before["versions"]] == [before["in_force"]["version"]]
    expected = {
        ("red_packets.yaml", _line_of(bad["red_packets.yaml"], "第一盲盒")),
        ("tiers.yaml", _line_of(bad["tiers.yaml"], "window_days: lots")),
    }
    assert checked["valid"] is False
    assert {(e["file"], e["line"]) for e in checked["errors"]} == expected
    assert refused.status_code == 422
    assert {(e["file"], e["line"]) for e in refused.json()["errors"]} == expected
    assert unchanged == before  # nothing stored, nothing applied
    assert applied.status_code == 201, applied.text
    assert applied.json()["label"] == "大促"
    assert after["in_force"]["version"] == applied.json()["version"]
    assert len(after["versions"]) == 2
    assert old.status_code == 200 and old.json()["files"] == files  # the old one stays readable
    assert as_host.status_code == 403


async def _livedesk(args: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [LIVEDESK, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "LIVEDESK_DATABASE_URL": database_url},
        timeout=60,
    )


async def test_rules_apply_on_the_command_line(private_database_url: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    tiers = rules / "tiers.yaml"
    good = tiers.read_text("utf-8")
    tiers.write_text(good.replace("window_days: 365", "window_days: lots"), "utf-8")
    line = _line_of(tiers.read_text("utf-8"), "window_days: lots")

    refused = await _livedesk(["rules", "apply", str(rules)], private_database_url)
    nothing = await _livedesk(["rules", "versions"], private_database_url)
    tiers.write_text(good, "utf-8")
    (rules / "manifest.yaml").write_text("label: 双11 第二场\n", "utf-8")
    applied = await _livedesk(
        ["rules", "apply", str(rules), "--by", "ops-li"], private_database_url
    )
    listed = await _livedesk(["rules", "versions"], private_database_url)
    version_hash = applied.stdout.strip().splitlines()[-1]
    shown = await _livedesk(
        ["rules", "show", version_hash[:10], "tiers.yaml"], private_database_url
    )

    assert refused.returncode == 1 and f"tiers.yaml:{line}:" in refused.stderr
    assert "nothing applied" in refused.stderr
    assert nothing.returncode == 0 and nothing.stdout == ""
    assert applied.returncode == 0, applied.stderr
    assert version_hash == load_rulebook(rules).content_hash
    assert listed.stdout.startswith(f"* {version_hash[:12]}  双11 第二场  applied: ")
    assert "by ops-li" in listed.stdout
    assert shown.returncode == 0 and shown.stdout == good
