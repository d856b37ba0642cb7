"""The shapes of the customers answers (the OpenAPI document shows them; see core.schemas)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from livedesk.core.schemas import Answer, Number


class Labelled(Answer):
    id: str
    label: str


class Audiences(Answer):
    tiers: list[Labelled]
    segments: list[Labelled]
    churn: list[Labelled] = Field(description="流失预警 levels, 'this level and up'")


class ChurnRow(Answer):
    customer_id: int
    nickname: str | None
    member_id: str | None
    tier: Labelled
    segment: Labelled
    risk: dict[str, Any] = Field(description="{level, label, reasons: [{kind, level, text}]}")
    last_order_at: str | None
    days_since_last_order: Number | None
    last_seen_at: str | None
    total_spent_cents: int
    recent_spend_cents: int
    previous_spend_cents: int
    do_not_greet: str | None
    do_not_contact: bool


class ChurnPage(Answer):
    customers: list[ChurnRow]
    next_after: int | None = Field(description="`after` for the next page; null on the last")


class CustomerCard(Answer):
    id: int
    nickname: str | None
    member_id: str | None
    tier: Labelled
    rfm: dict[str, Any] = Field(description="{r, f, m, score}")
    segment: dict[str, Any] = Field(description="{id, label, churn_risk}")
    identities: list[dict[str, str]] = Field(description="[{platform, platform_user_id}]")
    history: dict[str, Any]
    orders: list[dict[str, Any]]
    points_balance: int
    do_not_greet: str | None
    do_not_contact: bool
    last_seen_at: str | None
    churn: dict[str, Any] | None = Field(description="流失预警: level and reasons, or null")


class DoNotGreetState(Answer):
    id: int
    do_not_greet: str | None


class DoNotContactState(Answer):
    id: int
    do_not_contact: bool


class ImportReport(Answer):
    rows: int
    imported_rows: int
    duplicate_rows: int
    imported_members: int
    imported_orders: int
    skipped_duplicates: int
    rejected_rows: int
    error_count: int
    errors: list[dict[str, Any]] = Field(description="The first 100: [{row, column, reason}]")
    dry_run: bool
    resumed_after_row: int | None
