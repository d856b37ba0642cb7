"""What ops send about a room, and the shapes of the rooms answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from livedesk.core.schemas import Answer, Number
from livedesk.onair.schemas import SessionOut


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)


class RoomHeadline(Answer):
    room_id: str
    title: str
    status: str
    session: SessionOut = Field(description="The room's newest session (直播中 / 已下播 / 未开播)")
    viewers_now: int
    returning_share: Number | None
    gmv_cents: int
    orders: int
    last_event_at: str | None


class RoomKpis(Answer):
    """The live KPIs, the figures of the ops console's tiles (the `kpi` live-channel message)."""

    room_id: str
    viewers_now: int
    returning_share: Number | None = None
    returning_share_session: Number | None = None
    gmv_cents: int | None = None
    orders: int | None = None
    aov_returning_cents: int | None = None
    aov_new_cents: int | None = None
    redemption_rate: Number | None = Field(
        default=None, description="核销率: coupons redeemed ÷ coupons granted"
    )
    interaction_rate: Number | None = None
    sentiment_index: Number | None = None
    comments_per_min: Number | None = None


class Review(Answer):
    """The post-session review (JSON; `?format=csv|zip` answers a spreadsheet instead)."""

    room_id: str
    title: str
    session: SessionOut = Field(description="The session reviewed (not_started: the whole room)")
    started_at: str
    ended_at: str | None
    kpis: dict[str, Any]
    drops: list[dict[str, Any]]
    top_intents: list[list[Any]] = Field(description="[intent, label, count]")
    interest_ranking: list[dict[str, Any]]
    top_customers: list[dict[str, Any]]
    viewers_timeline: list[list[Any]] = Field(description="[ts, viewers, returning share]")
    sentiment_timeline: list[list[Any]] = Field(description="[ts, 1-minute index]")
    alerts: list[dict[str, Any]]


class Series(Answer):
    room_id: str
    viewers_timeline: list[list[Any]]
    sentiment_timeline: list[list[Any]]
    alerts: list[dict[str, Any]]


class ProductCard(Answer):
    """The product on the host's card (the `product` live-channel message)."""

    sku: str
    name: str
    price_cents: int
    stock_left: int | None
    talking_points: list[str]


class CatalogueItem(Answer):
    sku: str
    name: str
    price_cents: int


class Products(Answer):
    products: list[CatalogueItem]
    current_sku: str | None


class AuditRow(Answer):
    at: str
    operator: str
    action: str
    target: str | None
    idempotency_key: str | None
    body: dict[str, Any]
    detail: str | None


class AuditLog(Answer):
    entries: list[AuditRow] = Field(description="Newest first")
