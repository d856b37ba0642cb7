"""What the fetcher reads about people and rooms to place an order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.customers.models import Customer, CustomerIdentity
from livedesk.rooms.models import RoomViewer


async def watching_rooms(
    session: AsyncSession, platform: str, user: dict[str, Any], rooms: Sequence[str]
) -> list[str]:
    """Of `rooms`, those where the person behind `user`'s account on `platform` (that account,
    or any account linked to it by union_id / phone_hash) is watching now, latest seen first."""
    if not rooms:
        return []
    links = [Customer.union_id == user["union_id"]] if user.get("union_id") else []
    if user.get("phone_hash"):
        links.append(Customer.phone_hash == user["phone_hash"])
    people: set[int] = set(
        (
            await session.execute(
                select(CustomerIdentity.customer_id).where(
                    CustomerIdentity.platform == platform,
                    CustomerIdentity.platform_user_id == user["id"],
                )
            )
        ).scalars()
    )
    if links:
        linked = await session.execute(select(Customer.id, Customer.merged_into).where(or_(*links)))
        people.update(merged_into or customer_id for customer_id, merged_into in linked.all())
    if not people:
        return []
    accounts = await session.execute(
        select(CustomerIdentity.platform, CustomerIdentity.platform_user_id).where(
            CustomerIdentity.customer_id.in_(people)
        )
    )
    # A room's viewers are keyed `platform:user id` (rooms.presence.viewer_key).
    keys = [f"{account_platform}:{user_id}" for account_platform, user_id in accounts.all()]
    if not keys:
        return []
    present = await session.execute(
        select(RoomViewer.room_id)
        .where(
            RoomViewer.room_id.in_(list(rooms)),
            RoomViewer.present.is_(True),
            RoomViewer.user_key.in_(keys),
        )
        .order_by(RoomViewer.last_seen_at.desc())
    )
    return list(dict.fromkeys(present.scalars()))
