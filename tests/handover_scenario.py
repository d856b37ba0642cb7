"""One room's event sequence, in two halves, for the hand-over tests: whatever processes it
(one process, or several with the room changing hands between the halves) must end with the
same figures and the same hints.

The halves are built so that a hand-over that lost the room's state would show: the second
half's gift questions reach the hint's threshold (4 in 60 s) only together with the first
half's, and its price objections fall in the first half's hint cooldown. The figures compared
(interaction rate over 5 min, sentiment and comments/min over 1 min) span both halves.
"""

from __future__ import annotations

from typing import Any

from support import event

PRICE = [
    "太贵了吧",
    "有点贵啊",
    "能便宜点吗",
    "价格太高了",
    "买不起呀",
    "再便宜一点",
    "性价比不高",
    "好贵",
]
GIFTS = ["送什么赠品", "有小样吗", "赠品是啥", "买一送一吗"]
CHAT = [
    "主播好漂亮",
    "这个颜色好看",
    "已经用了一年了很好用",
    "什么时候发货",
    "质地怎么样",
    "主播讲得好清楚",
    "刚下单了期待",
    "包装真好看",
    "效果不错推荐",
    "喜欢这个味道",
]
SKU = "SKU-CREAM-50"


def _comment(room_id: str, user: str, text: str) -> dict[str, Any]:
    return event(room_id, "comment", user, content=text)


def _order(room_id: str, user: str, n: int, amount_cents: int) -> dict[str, Any]:
    return event(
        room_id,
        "order",
        user,
        order={
            "order_id": f"{room_id}-o{n}",
            "amount_cents": amount_cents,
            "items": [{"sku": SKU, "qty": 1, "price_cents": amount_cents}],
            "status": "paid",
        },
    )


def first_half(room_id: str) -> list[dict[str, Any]]:
    events = [event(room_id, "enter", f"v{n}") for n in range(12)]
    events += [_comment(room_id, f"p{n}", text) for n, text in enumerate(PRICE[:5])]
    events += [_comment(room_id, f"g{n}", text) for n, text in enumerate(GIFTS[:2])]
    events += [_comment(room_id, f"v{n}", text) for n, text in enumerate(CHAT[:6])]
    events += [event(room_id, "like", f"v{n}", count=3) for n in range(6, 9)]
    events += [_order(room_id, "v1", 1, 19900), _order(room_id, "v2", 2, 29900)]
    return events


def second_half(room_id: str) -> list[dict[str, Any]]:
    events = [event(room_id, "enter", f"w{n}") for n in range(4)]
    events += [event(room_id, "leave", f"v{n}") for n in (10, 11)]
    events += [_comment(room_id, f"p{n + 5}", text) for n, text in enumerate(PRICE[5:])]
    events += [_comment(room_id, f"g{n + 2}", text) for n, text in enumerate(GIFTS[2:])]
    events += [_comment(room_id, f"w{n}", text) for n, text in enumerate(CHAT[6:])]
    events += [event(room_id, "like", f"w{n}", count=2) for n in range(2)]
    events.append(_order(room_id, "w0", 3, 9900))
    return events


def figures(kpi: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on who processed the room."""
    return {
        key: kpi.get(key)
        for key in (
            "interaction_rate",
            "sentiment_index",
            "comments_per_min",
            "viewers_now",
            "orders",
            "gmv_cents",
        )
    }


def hint_decisions(log: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str]]:
    """(intent, text) of every hint the pipeline gave, in log order."""
    return [(data["intent"], data["text"]) for kind, data in log if kind == "hint"]
