"""Stored rules versions: store a validated rulebook, record an apply, read what is in force,
load any version back as a rulebook.

The caller owns the transaction (these functions flush, never commit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.clock import utcnow
from livedesk.core.db import insert_for
from livedesk.rulebook.book import HASH_SHOWN, Rulebook, build_rulebook
from livedesk.rulesets.models import RulesApply, RulesVersion


@dataclass(frozen=True)
class InForce:
    """The newest apply: which version, since when, by whom."""

    apply_id: int
    version_hash: str
    label: str
    applied_at: datetime
    applied_by: str

    @property
    def version(self) -> str:
        return self.version_hash[:HASH_SHOWN]


async def store(session: AsyncSession, book: Rulebook, by: str) -> None:
    """Keep the rulebook's files under its hash (a no-op when that content is stored already:
    the first label stays)."""
    values = {
        "hash": book.content_hash,
        "label": book.label,
        "files": book.files,
        "created_at": utcnow(),
        "created_by": by,
    }
    await session.execute(
        insert_for(session, RulesVersion)
        .values(values)
        .on_conflict_do_nothing(index_elements=["hash"])
    )


async def record_apply(session: AsyncSession, book: Rulebook, by: str) -> InForce:
    """Store the version and make it the one in force."""
    await store(session, book, by)
    apply = RulesApply(version_hash=book.content_hash, applied_at=utcnow(), applied_by=by)
    session.add(apply)
    await session.flush()
    in_force = await current(session)
    assert in_force is not None
    return in_force


async def current(session: AsyncSession) -> InForce | None:
    """The newest apply, or None before the first."""
    row = (
        await session.execute(
            select(RulesApply, RulesVersion.label)
            .join(RulesVersion, RulesVersion.hash == RulesApply.version_hash)
            .order_by(RulesApply.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    apply, label = row
    return InForce(apply.id, apply.version_hash, label, apply.applied_at, apply.applied_by)


async def find(session: AsyncSession, version: str) -> RulesVersion | None:
    """A stored version by its full hash or an unambiguous prefix of it (at least 8 characters)."""
    if len(version) < 8:
        return None
    rows = (
        (
            await session.execute(
                select(RulesVersion)
                .where(RulesVersion.hash.startswith(version, autoescape=True))
                .limit(2)
            )
        )
        .scalars()
        .all()
    )
    return rows[0] if len(rows) == 1 else None


async def load(session: AsyncSession, version_hash: str) -> Rulebook:
    """A stored version as a rulebook (validated again: RulesInvalid if this build no longer
    accepts it)."""
    row = await session.get(RulesVersion, version_hash)
    if row is None:
        raise LookupError(f"no stored rules version {version_hash}")
    return build_rulebook(row.files, label=row.label)


async def history(session: AsyncSession) -> list[tuple[RulesVersion, list[RulesApply]]]:
    """Every stored version, newest first, with its applies."""
    versions = (
        (await session.execute(select(RulesVersion).order_by(RulesVersion.created_at.desc())))
        .scalars()
        .all()
    )
    applies = (await session.execute(select(RulesApply).order_by(RulesApply.id))).scalars().all()
    by_version: dict[str, list[RulesApply]] = {}
    for apply in applies:
        by_version.setdefault(apply.version_hash, []).append(apply)
    return [(version, by_version.get(version.hash, [])) for version in versions]
