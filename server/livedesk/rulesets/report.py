"""The review's rules part: which rules version the room ran under, from which seq."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.rulebook.book import HASH_SHOWN
from livedesk.rulesets.models import RoomRulesEntry, RulesVersion


async def rules_versions(
    session: AsyncSession, room_id: str, _window: tuple[datetime, datetime] | None = None
) -> dict[str, Any]:
    """A report part (see `app.state.report_parts`); every version the room ran under, the
    session's window or not (a switch before it still governs it)."""
    rows = await session.execute(
        select(RoomRulesEntry, RulesVersion.label)
        .join(RulesVersion, RulesVersion.hash == RoomRulesEntry.version_hash)
        .where(RoomRulesEntry.room_id == room_id)
        .order_by(RoomRulesEntry.since_seq)
    )
    return {
        "rules_versions": [
            {
                "version": entry.version_hash[:HASH_SHOWN],
                "label": label,
                "since_seq": entry.since_seq,
                "switched_at": entry.switched_at.isoformat(),
            }
            for entry, label in rows.all()
        ]
    }
