"""`livedesk dry-run`: a recorded session (or a room's own inbox) replayed under candidate rules
and under the rules in force, each into a throwaway database, reported side by side.

The real database is opened read only (a PostgreSQL session with default_transaction_read_only,
a SQLite file opened with mode=ro): a bug here could not write to it if it tried.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from livedesk.core.db import JSON_CODEC, session_factory
from livedesk.core.settings import Settings
from livedesk.dryrun import report
from livedesk.dryrun.replay import Sourced, outcome_of, replay
from livedesk.ingest.models import InboxEvent
from livedesk.ingest.schemas import Event, describe_errors
from livedesk.roomlog.models import RoomLogEntry
from livedesk.rulebook.book import Rulebook, load_rulebook
from livedesk.rulesets import versions


class SessionUnreadable(ValueError):
    """The session file has lines that are not events (each named with its line number)."""


def read_session(path: Path, platform: str = "generic") -> list[Sourced]:
    """A recorded session (`livedesk simulate --record`): one generic event per line."""
    events: list[Sourced] = []
    problems: list[str] = []
    for line_no, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append((platform, Event.model_validate(orjson.loads(line))))
        except orjson.JSONDecodeError as exc:
            problems.append(f"{path.name}:{line_no}: not valid JSON ({exc})")
        except ValidationError as exc:
            problems.append(f"{path.name}:{line_no}: {describe_errors(exc)}")
    if problems:
        raise SessionUnreadable("\n".join(problems))
    return sorted(events, key=lambda sourced: sourced[1].ts)


def read_only_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        return create_async_engine(
            f"sqlite+aiosqlite:///file:{database}?mode=ro&uri=true", **JSON_CODEC
        )
    return create_async_engine(
        url,
        **JSON_CODEC,
        connect_args={"server_settings": {"default_transaction_read_only": "on"}},
    )


async def room_inbox(real: AsyncSession, room_id: str) -> list[Sourced]:
    rows = await real.execute(
        select(InboxEvent.platform, InboxEvent.payload)
        .where(InboxEvent.room_id == room_id)
        .order_by(InboxEvent.id)
    )
    events = [(platform, Event.from_record(payload)) for platform, payload in rows.all()]
    return sorted(events, key=lambda sourced: sourced[1].ts)


async def rules_in_force(real: AsyncSession, fallback: Path) -> Rulebook:
    in_force = await versions.current(real)
    if in_force is None:
        return load_rulebook(fallback)
    return await versions.load(real, in_force.version_hash)


async def dry_run(
    settings: Settings,
    candidate: Rulebook,
    *,
    session_file: Path | None = None,
    room_id: str | None = None,
    baseline: Rulebook | None = None,
) -> dict[str, Any]:
    """The report (see `report.build`). RulesInvalid, SessionUnreadable for bad input."""
    engine = read_only_engine(settings.database_url)
    real: async_sessionmaker[AsyncSession] = session_factory(engine)
    try:
        async with real() as session:
            if session_file is not None:
                events = read_session(session_file)
            else:
                assert room_id is not None
                events = await room_inbox(session, room_id)
            in_force = baseline or await rules_in_force(session, settings.rules_dir)
        with tempfile.TemporaryDirectory(prefix="livedesk-dry-run-") as workdir:
            tried = await replay(events, candidate, real, Path(workdir))
            usual = await replay(events, in_force, real, Path(workdir))
        rooms = sorted({event.room_id for _platform, event in events})
        async with real() as session:
            ran_here = await session.scalar(
                select(RoomLogEntry.seq).where(RoomLogEntry.room_id.in_(rooms)).limit(1)
            )
            actual = (
                await outcome_of(session, rooms, "", "", len(events))
                if ran_here is not None
                else None
            )
        return report.build(tried, usual, actual)
    finally:
        await engine.dispose()
