"""The follow-up list out of livedesk: a spreadsheet for people, signed webhook batches for a
CRM or 企业微信 tool (through the outbox: delivered at least once, each batch one webhook-id)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.afterstream.followup import ROUTE_LABELS, FollowUp
from livedesk.afterstream.models import WHOLE_ROOM, FollowUpSent
from livedesk.core import spreadsheet
from livedesk.customers import repository as customers_repo
from livedesk.fulfilment import outbox

WEBHOOK_KIND = "followup.batch"
BATCH_SIZE = 100
CSV_HEADER = (
    "客户ID",
    "昵称",
    "会员号",
    "会员等级",
    "平台账号",
    "本场弹幕",
    "本场提问",
    "投诉/售后",
    "本场订单数",
    "本场消费（元）",
    "购买商品",
    "领取未用",
    "已核销",
    "流失预警",
    "建议动作",
    "路由",
    "消息",
    "备注",
)


def item(follow_up: FollowUp) -> dict[str, Any]:
    """One customer's follow-up as JSON (the API and the webhook batch)."""
    c = follow_up.customer
    action = follow_up.action
    return {
        "customer_id": c.customer_id,
        "nickname": c.nickname,
        "member_id": c.member_id,
        "tier_label": c.tier_label,
        "accounts": [{"platform": p, "platform_user_id": u} for p, u in c.accounts],
        "comments": c.comments,
        "asked": list(follow_up.asked),
        "complaint": follow_up.complaint,
        "orders": c.orders,
        "spent_cents": c.spent_cents,
        "items": list(dict.fromkeys(c.items)),
        "unused": [{"title": g.title, "expires_at": g.expires_at.isoformat()} for g in c.unused],
        "redeemed": c.redeemed,
        "churn": c.churn.to_dict() if c.churn else None,
        "action": {"id": action.id, "label": action.label} if action else None,
        "route": follow_up.route,
        "message": follow_up.message,
        "note": follow_up.note,
    }


def to_csv(follow_ups: Sequence[FollowUp]) -> str:
    return spreadsheet.to_csv(CSV_HEADER, (_row(f) for f in follow_ups))


def _row(follow_up: FollowUp) -> list[object]:
    c = follow_up.customer
    return [
        c.customer_id,
        c.nickname,
        c.member_id,
        c.tier_label,
        "、".join(f"{p}:{u}" for p, u in c.accounts),
        c.comments,
        "" if follow_up.complaint else "、".join(follow_up.asked),
        ("、".join(follow_up.asked) or "是") if follow_up.complaint else "",
        c.orders,
        spreadsheet.yuan(c.spent_cents),
        "、".join(dict.fromkeys(c.items)),
        "、".join(g.title for g in c.unused),
        c.redeemed,
        c.churn.label if c.churn else "",
        follow_up.action.label if follow_up.action else "不跟进",
        ROUTE_LABELS.get(follow_up.route or "", ""),
        follow_up.message,
        follow_up.note,
    ]


async def send(
    session: AsyncSession,
    room_id: str,
    session_id: int | None,
    room_title: str,
    follow_ups: Sequence[FollowUp],
) -> dict[str, int]:
    """Queue the follow-ups not sent before for this session (None: a room never started) as
    webhook batches; each customer of a session goes out once, whatever the number of sends.
    Flushes, no commit."""
    key = session_id if session_id is not None else WHOLE_ROOM
    wanted = [f for f in follow_ups if f.action is not None]
    rows = [
        {
            "room_id": room_id,
            "session_id": key,
            "customer_id": f.customer.customer_id,
            "action_id": f.action.id,
            "route": f.action.route,
            "webhook_id": "",
        }
        for f in wanted
        if f.action is not None
    ]
    fresh: set[int] = set()
    for part in customers_repo.chunks(rows):
        statement = customers_repo.insert_ignoring(
            session, FollowUpSent, ["room_id", "session_id", "customer_id"]
        )
        inserted = await session.execute(statement.returning(FollowUpSent.customer_id), list(part))
        fresh.update(inserted.scalars())
    new = [f for f in wanted if f.customer.customer_id in fresh]
    batches = 0
    for start in range(0, len(new), BATCH_SIZE):
        batch = new[start : start + BATCH_SIZE]
        webhook_id = f"followup_{uuid.uuid4().hex}"
        outbox.enqueue(
            session,
            webhook_id=webhook_id,
            kind=WEBHOOK_KIND,
            payload={
                "room_id": room_id,
                "session_id": session_id,
                "room_title": room_title,
                "count": len(batch),
                "items": [item(f) for f in batch],
            },
            room_id=room_id,
        )
        customer_ids = [f.customer.customer_id for f in batch]
        await _name_batch(session, room_id, key, customer_ids, webhook_id)
        batches += 1
    await session.flush()
    return {
        "sent": len(new),
        "batches": batches,
        "already_sent": len(wanted) - len(new),
        "not_contacted": len(follow_ups) - len(wanted),
    }


async def _name_batch(
    session: AsyncSession, room_id: str, key: int, customer_ids: list[int], webhook_id: str
) -> None:
    await session.execute(
        update(FollowUpSent)
        .where(
            FollowUpSent.room_id == room_id,
            FollowUpSent.session_id == key,
            FollowUpSent.customer_id.in_(customer_ids),
        )
        .values(webhook_id=webhook_id)
    )
