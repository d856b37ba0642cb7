"""What the platform adapters answer when they took a push, in each platform's own words (the
OpenAPI document shows them; refusals are core.errors' Error shape, Kuaishou's with its
`result: 0` and `errorMsg` beside it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class KuaishouTaken(BaseModel):
    """Kuaishou's success: anything else makes it push again."""

    result: Literal[1]


class DoudianTaken(BaseModel):
    """抖店's success, also when a message could not be read (it would resend the same bytes)."""

    code: Literal[0]
    msg: Literal["success"]


class DouyinOpenChallenge(BaseModel):
    """Douyin's URL check, answered with its own challenge."""

    challenge: Any = Field(description="Echoed as Douyin sent it")


class DouyinOpenTaken(BaseModel):
    """A webhook taken: its orders stored (new ones and ones already there), or acknowledged
    without an event (`ignored`: its event name) or unreadable (`error`: why)."""

    accepted: int
    duplicates: int
    error: str | None = Field(default=None, description="Only when the message was unreadable")
    ignored: str | None = Field(default=None, description="Only for an event livedesk does not use")
