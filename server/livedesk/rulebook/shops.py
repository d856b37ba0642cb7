"""shops.yaml: which livedesk rooms each shop's orders go to.

A shop's push (抖店, 微信小店, the Douyin open platform's trade notifications) names an order,
never a room; the order fetcher puts each order in one of its shop's rooms (see
`livedesk.shops.routing` for which).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from livedesk.rulebook.book import RULE_FILES

ShopPlatform = Literal["doudian", "wechat_shop", "douyin_open"]
_Id = Field(min_length=1, max_length=128)


class Shop(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: ShopPlatform
    # 抖店: shop_id · 微信小店: the shop account's original id (the push's ToUserName, gh_…) ·
    # Douyin open platform: the order's account_id
    shop_id: str = _Id
    # Where its orders may land; the first is where an order goes when nothing says otherwise.
    rooms: list[str] = Field(min_length=1)
    # The platform's live-room id an order names (抖店 sku_order_list[].room_id, 微信小店
    # ext_info.live_id) → the livedesk room of that live session.
    live_rooms: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _rooms_are_known(self) -> Shop:
        if len(set(self.rooms)) != len(self.rooms):
            raise ValueError("a room is listed twice")
        for live_room, room in self.live_rooms.items():
            if room not in self.rooms:
                raise ValueError(f"live room {live_room} goes to {room!r}, which is not in rooms")
        return self


class ShopRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shops: list[Shop] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_entry_per_shop(self) -> ShopRules:
        seen: set[tuple[str, str]] = set()
        for shop in self.shops:
            key = (shop.platform, shop.shop_id)
            if key in seen:
                raise ValueError(f"{shop.platform} shop {shop.shop_id} is listed twice")
            seen.add(key)
        return self

    def find(self, platform: str, shop_id: str) -> Shop | None:
        for shop in self.shops:
            if shop.platform == platform and shop.shop_id == shop_id:
                return shop
        return None

    def platforms_of(self, room_id: str) -> list[str]:
        """The shop platforms whose orders may land in `room_id`."""
        return sorted({shop.platform for shop in self.shops if room_id in shop.rooms})


RULE_FILES["shops.yaml"] = ShopRules
