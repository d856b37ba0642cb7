"""Rules API: check or apply a rules set, read the version in force and every stored version,
and a room's rules history (which version from which seq)."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from livedesk.auth.deps import OpsOnly
from livedesk.core.db import after_commit, commit
from livedesk.core.deps import BusDep, SessionDep, SettingsDep
from livedesk.core.errors import ApiError
from livedesk.core.settings import Settings
from livedesk.rooms.lookup import room_or_404
from livedesk.rulebook.book import (
    HASH_SHOWN,
    MANIFEST,
    Rulebook,
    build_rulebook,
    load_rulebook,
)
from livedesk.rulebook.loader import RuleError, RulesInvalid
from livedesk.rulesets import versions
from livedesk.rulesets.models import RoomRulesEntry, RulesVersion
from livedesk.rulesets.switching import announce_apply

router = APIRouter(prefix="/api/v1", tags=["rules"])

Responses = dict[int | str, dict[str, Any]]
AUTH: Responses = {401: {"description": "Not signed in"}, 403: {"description": "Role not allowed"}}
INVALID: Responses = {422: {"description": "The rules set is invalid: every error, file and line"}}


class DryRunOutcome(BaseModel):
    model_config = ConfigDict(extra="allow")

    rules: dict[str, Any] = Field(description="{version, label}")
    events: int
    greeted: int
    grants: int
    held: int
    cost_cents: int
    drops: list[dict[str, Any]]


class DryRunOut(BaseModel):
    """The replay under the candidate rules beside the rules in force (`baseline`) and, for a
    room that ran here, what actually happened (`actual`); `vs_*`: who is greeted or paid
    only on one side, and the cost per drop."""

    model_config = ConfigDict(extra="allow")

    candidate: DryRunOutcome
    baseline: DryRunOutcome
    vs_baseline: dict[str, Any]
    actual: DryRunOutcome | None = None
    vs_actual: dict[str, Any] | None = None


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, min_length=1, max_length=80)
    # file name -> text; omitted: the server's rules directory (LIVEDESK_RULES_DIR) as it is now
    files: dict[str, str] | None = None


class ErrorOut(BaseModel):
    file: str
    line: int
    message: str


class CheckOut(BaseModel):
    valid: bool
    version: str | None = None
    label: str | None = None
    errors: list[ErrorOut] = []


class ApplyOut(BaseModel):
    version: str
    version_hash: str
    label: str
    apply_id: int
    applied_at: datetime
    applied_by: str


class ApplyRecord(BaseModel):
    apply_id: int
    applied_at: datetime
    applied_by: str


class VersionOut(BaseModel):
    version: str
    version_hash: str
    label: str
    created_at: datetime
    created_by: str
    applies: list[ApplyRecord] = []


class RulesOut(BaseModel):
    in_force: ApplyOut | None
    versions: list[VersionOut]


class VersionFilesOut(VersionOut):
    files: dict[str, str]


class RoomRulesOut(BaseModel):
    version: str
    label: str
    since_seq: int
    apply_id: int
    switched_at: datetime


def _candidate(body: RulesIn, rules_dir: Path) -> Rulebook:
    """The rulebook the body describes (RulesInvalid with every error)."""
    if body.files is None:
        return load_rulebook(rules_dir, label=body.label)
    return build_rulebook(body.files, label=body.label or "uploaded")


def _errors(errors: list[RuleError]) -> list[ErrorOut]:
    return [ErrorOut(file=e.file, line=e.line, message=e.message) for e in errors]


@router.post("/rules/check", responses=AUTH)
async def check_rules(body: RulesIn, settings: SettingsDep, _operator: OpsOnly) -> CheckOut:
    """Validate a rules set (the server's rules directory, or the files sent) without applying."""
    try:
        book = _candidate(body, settings.rules_dir)
    except RulesInvalid as exc:
        return CheckOut(valid=False, errors=_errors(exc.errors))
    return CheckOut(valid=True, version=book.version, label=book.label)


@router.post("/rules/apply", status_code=201, responses={**AUTH, **INVALID})
async def apply_rules(
    body: RulesIn, session: SessionDep, bus: BusDep, settings: SettingsDep, operator: OpsOnly
) -> ApplyOut:
    """Validate a rules set and, only if it is valid, make it the one in force: every room
    switches at its next batch, at one seq (a `rules` message in its log). An invalid set
    changes nothing; the 422 lists every error with file and line."""
    try:
        book = _candidate(body, settings.rules_dir)
    except RulesInvalid as exc:
        errors = [e.model_dump() for e in _errors(exc.errors)]
        raise ApiError(422, f"规则有 {len(errors)} 处错误，未应用", errors=errors) from None
    in_force = await versions.record_apply(session, book, by=operator.name)
    after_commit(session, lambda: announce_apply(bus))
    await commit(session)
    return _apply_out(in_force)


@router.get("/rules", responses=AUTH)
async def list_rules(session: SessionDep, _operator: OpsOnly) -> RulesOut:
    """The version in force and every stored version, newest first, with its applies."""
    in_force = await versions.current(session)
    return RulesOut(
        in_force=_apply_out(in_force) if in_force else None,
        versions=[
            VersionOut(
                **_version_fields(version),
                applies=[
                    ApplyRecord(apply_id=a.id, applied_at=a.applied_at, applied_by=a.applied_by)
                    for a in applies
                ],
            )
            for version, applies in await versions.history(session)
        ],
    )


@router.get(
    "/rules/versions/{version}",
    responses={**AUTH, 404: {"description": "No stored version has this hash (or prefix)"}},
)
async def show_version(version: str, session: SessionDep, _operator: OpsOnly) -> VersionFilesOut:
    """A stored version whole: its label and every file's text (at least 8 hash characters)."""
    row = await versions.find(session, version)
    if row is None:
        raise ApiError(404, f"no stored rules version {version!r} (give 8+ characters)")
    return VersionFilesOut(**_version_fields(row), files=row.files)


@router.get("/rooms/{room_id}/rules", responses=AUTH)
async def room_rules(room_id: str, session: SessionDep, _operator: OpsOnly) -> list[RoomRulesOut]:
    """Which rules version the room ran under from which seq, oldest first."""
    rows = await session.execute(
        select(RoomRulesEntry, RulesVersion.label)
        .join(RulesVersion, RulesVersion.hash == RoomRulesEntry.version_hash)
        .where(RoomRulesEntry.room_id == room_id)
        .order_by(RoomRulesEntry.since_seq)
    )
    return [
        RoomRulesOut(
            version=entry.version_hash[:HASH_SHOWN],
            label=label,
            since_seq=entry.since_seq,
            apply_id=entry.apply_id,
            switched_at=entry.switched_at,
        )
        for entry, label in rows.all()
    ]


DRY_RUN_TIMEOUT_S = 600.0
DRY_RUN_NICE = 10  # a preview must not slow the acks of the stream it previews


@router.post(
    "/rooms/{room_id}/rules/dry-run",
    response_model=DryRunOut,
    response_model_exclude_unset=True,
    responses={
        **AUTH,
        **INVALID,
        504: {"description": "The replay took longer than 10 minutes"},
    },
)
async def preview_rules(
    room_id: str, body: RulesIn, session: SessionDep, settings: SettingsDep, _operator: OpsOnly
) -> dict[str, Any]:
    """Replay this room's own inbox under a candidate rules set (the server's rules directory,
    or the files sent) into a throwaway database: who would be greeted, what granted, the cost
    against budgets, beside the rules in force and what actually happened. Nothing real is
    touched. Runs `livedesk dry-run` in a process of its own, at a lower CPU priority."""
    await room_or_404(session, room_id)  # before a process is started for nothing
    await session.rollback()  # no transaction held while the replay runs
    try:
        book = _candidate(body, settings.rules_dir)
    except RulesInvalid as exc:
        errors = [e.model_dump() for e in _errors(exc.errors)]
        raise ApiError(422, f"规则有 {len(errors)} 处错误", errors=errors) from None
    with tempfile.TemporaryDirectory(prefix="livedesk-preview-") as workdir:
        rules_dir = Path(workdir)
        for name, text in book.files.items():
            (rules_dir / name).write_text(text, encoding="utf-8")
        label = orjson.dumps(book.label).decode()  # a JSON string is a YAML string
        (rules_dir / MANIFEST).write_text(f"label: {label}\n", encoding="utf-8")
        report: dict[str, Any] = await _run_dry_run(settings, room_id, rules_dir)
    return report


async def _run_dry_run(settings: Settings, room_id: str, rules_dir: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "LIVEDESK_DATABASE_URL": settings.database_url,
        "LIVEDESK_RULES_DIR": str(settings.rules_dir),
    }
    args = ["dry-run", "--room", room_id, "--rules", str(rules_dir), "--json"]
    args += ["--nice", str(DRY_RUN_NICE)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "livedesk.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(DRY_RUN_TIMEOUT_S):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise ApiError(504, "预演超时（超过 10 分钟）") from None
    if process.returncode != 0:
        raise ApiError(500, f"预演失败：{err.decode(errors='replace')[-500:]}")
    result: dict[str, Any] = orjson.loads(out)
    return result


def _apply_out(in_force: versions.InForce) -> ApplyOut:
    return ApplyOut(
        version=in_force.version,
        version_hash=in_force.version_hash,
        label=in_force.label,
        apply_id=in_force.apply_id,
        applied_at=in_force.applied_at,
        applied_by=in_force.applied_by,
    )


def _version_fields(row: RulesVersion) -> dict[str, Any]:
    return {
        "version": row.hash[:HASH_SHOWN],
        "version_hash": row.hash,
        "label": row.label,
        "created_at": row.created_at,
        "created_by": row.created_by,
    }
