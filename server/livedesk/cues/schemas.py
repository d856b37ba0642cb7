"""The shapes of the cues answers: a hint on the teleprompter, the room's alert thresholds."""

from __future__ import annotations

from pydantic import Field

from livedesk.core.schemas import Answer, Number


class HintAnswer(Answer):
    """A hint as the teleprompter shows it (the `hint` live-channel message); a dismissal
    answers only the `id` (the `hint_dismissed` message)."""

    id: str
    intent: str | None = None
    text: str | None = None
    priority: int | None = None
    created_at: str | None = None
    expires_at: str | None = None
    count: int | None = None
    pinned: bool | None = None


class Threshold(Answer):
    key: str = Field(description="rule.field, e.g. complaint_surge.threshold")
    min: Number
    max: Number
    default: Number
    value: Number


class Thresholds(Answer):
    thresholds: list[Threshold]
