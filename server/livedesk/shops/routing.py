"""Which room a shop's order goes to. Pure: the caller looks up where the buyer is watching."""

from __future__ import annotations

from collections.abc import Sequence

from livedesk.rulebook.shops import Shop
from livedesk.shops.orders import ShopOrder

# The live platform a shop sells on: the room an order creates (if it comes before any live
# event of its room) is a room of this platform.
LIVE_PLATFORM = {"doudian": "douyin", "douyin_open": "douyin", "wechat_shop": "wechat"}


def choose_room(shop: Shop, order: ShopOrder, watching: Sequence[str]) -> str:
    """The live session the order names (shops.yaml `live_rooms`, or a room of the same id),
    else a room of the shop where the buyer is watching now (`watching`, latest first), else
    the shop's first room."""
    if order.live_room is not None:
        named = shop.live_rooms.get(order.live_room)
        if named is not None:
            return named
        if order.live_room in shop.rooms:
            return order.live_room
    for room_id in watching:
        if room_id in shop.rooms:
            return room_id
    return shop.rooms[0]
