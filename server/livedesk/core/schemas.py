"""The base of every JSON answer's documented shape (the OpenAPI document shows them).

Answers are shaped by the contract, and some carry fields that vary (a coupon's face value only
when it has one, KPI figures added over time): a model names the fields a client can rely on,
lets the others pass through unchanged, and routes that declare one also declare
`response_model_exclude_unset=True`, so a field absent from an answer stays absent. Declaring a
response model documents the answer; it never changes it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# A figure as computed: an int stays an int in the answer (a float field would write 12.0).
Number = int | float
# The route options that go with every response model (see above).
AS_SHAPED: dict[str, Any] = {"response_model_exclude_unset": True}


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class Readiness(BaseModel):
    """/readyz: each backend's state, "ok" or why not (503 unless all are ok)."""

    database: str
    redis: str | None = Field(default=None, description="Only when LIVEDESK_REDIS_URL is set")
    webhooks: str | None = Field(
        default=None, description="Whether webhooks are being taken now (absent: unmigrated)"
    )
