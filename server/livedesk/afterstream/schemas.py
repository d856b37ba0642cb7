"""The shapes of the after-the-stream answers (the OpenAPI document shows them; see
core.schemas)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from livedesk.core.schemas import Answer


class FollowUps(Answer):
    room_id: str
    session_id: int | None = Field(description="The session; null: a room never started")
    started_at: str
    ended_at: str
    customers: list[dict[str, Any]] = Field(
        description="Each customer the session saw, with their next action, route and message"
    )


class FollowUpsSent(Answer):
    sent: int
    batches: int
    already_sent: int
    not_contacted: int


class Retention(Answer):
    room_id: str
    session_id: int | None = Field(description="The session; null: a room never started")
    started_at: str
    ended_at: str
    formulas: dict[str, str]


class SessionKindAnswer(Answer):
    room_id: str
    session_id: int | None = Field(description="The session tagged; null: a room never started")
    kind: str
    label: str


class Comparison(Answer):
    room_id: str
    session_id: int | None = Field(description="The session compared; null: a room never started")
    title: str
    kind: dict[str, str] = Field(description="{id, label}")
    started_at: str
    ended_at: str
    baseline_rooms: list[str]
    baseline: list[dict[str, Any]] = Field(
        description="The regular sessions compared with: {room_id, session_id, started_at, "
        "ended_at}, latest first"
    )
    drops: list[dict[str, Any]]
