"""A session as answers and the live channel carry it (`records.to_dict`)."""

from __future__ import annotations

from pydantic import Field

from livedesk.core.schemas import Answer


class SessionOut(Answer):
    state: str = Field(description="live 直播中, ended 已下播, not_started 未开播 (no session yet)")
    id: int | None
    started_at: str | None
    started_by: str | None = None
    ended_at: str | None
    ended_by: str | None = None
    kind: str | None = Field(
        default=None, description="regular 常规, returning_special 老客专场, big_promotion 大促, …"
    )
