"""The generator's realism: mix, validity, viewer dynamics, returning customers, money."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from livedesk.ingest.schemas import parse_batch
from livedesk.simulator.danmaku import (
    DEFAULT_SAMPLER,
    duplicate_share,
    sample_comment,
    sample_danmaku,
)
from livedesk.simulator.phrasebook import Category
from livedesk.simulator.session import (
    CATALOGUE,
    DemoCustomer,
    SessionSimulator,
    default_customers_file,
    load_demo_customers,
)

START_MS = 1_790_000_000_000
CUSTOMERS = [
    DemoCustomer("王姐", union_id="U-7f3a9c01", phone_hash="a" * 64, platform_user_id="dy_wj"),
    DemoCustomer("陈阿姨", union_id="U-2b81d470", platform_user_id="dy_chen"),
    DemoCustomer("李哥", phone_hash="b" * 64, platform_user_id="dy_lige"),
    DemoCustomer("小张", platform_user_id="dy_xiaozhang"),
]


def generate(
    n_events: int = 10_000, *, seed: int = 7, run_id: str = "t", batch: int = 100
) -> list[dict[str, Any]]:
    sim = SessionSimulator("room-1", seed=seed, customers=CUSTOMERS, run_id=run_id)
    events: list[dict[str, Any]] = []
    # 5 s per batch: 500 s of session, through warm-up and several product cycles.
    for index in range(n_events // batch):
        events += sim.next_batch(batch, START_MS + index * 5_000, span_ms=5_000)
    return events


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return generate()


def test_type_mix_is_within_tolerance(events: list[dict[str, Any]]) -> None:
    counts = Counter(event["type"] for event in events)
    share = {kind: count / len(events) for kind, count in counts.items()}
    assert share["comment"] == pytest.approx(0.70, abs=0.02)
    assert share["enter"] + share["leave"] == pytest.approx(0.15, abs=0.02)
    assert share["like"] + share["gift"] == pytest.approx(0.10, abs=0.015)
    money = share["order"] + share.get("refund", 0) + share.get("stock", 0)
    assert money == pytest.approx(0.05, abs=0.01)
    assert counts["refund"] > 0 and counts["stock"] > 0 and counts["gift"] > 0


def test_every_event_validates_against_the_webhook_schema(events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 1000):
        parsed, rejected = parse_batch({"events": events[start : start + 1000]})
        assert rejected == []
        assert len(parsed) == len(events[start : start + 1000])


def test_ids_are_unique_and_ts_never_goes_back(events: list[dict[str, Any]]) -> None:
    assert len({event["id"] for event in events}) == len(events)
    stamps = [event["ts"] for event in events]
    assert stamps == sorted(stamps)
    assert stamps[0] > START_MS - 5_000 and stamps[-1] <= START_MS + 99 * 5_000


def test_viewers_enter_before_they_speak_and_leave_only_when_present(
    events: list[dict[str, Any]],
) -> None:
    present: set[str] = set()
    entered: set[str] = set()
    for event in events:
        kind = event["type"]
        user_id = event.get("user", {}).get("id")
        if kind == "enter":
            assert user_id not in present
            present.add(user_id)
            entered.add(user_id)
        elif kind == "leave":
            assert user_id in present
            present.discard(user_id)
        elif kind in {"comment", "like", "gift", "order"}:
            assert user_id in present, f"{kind} from {user_id} who is not in the room"
        elif kind == "refund":
            assert user_id in entered  # the buyer may have left since
    # A room that fills up and then breathes, not one that empties.
    assert 50 < len(present) < 400


def test_comments_are_realistic_danmaku(events: list[dict[str, Any]]) -> None:
    texts = [event["content"] for event in events if event["type"] == "comment"]
    assert 0.2 <= duplicate_share(texts) <= 0.6  # MEASURED.md: 20–60 % exact repeats
    top = Counter(texts).most_common(5)
    assert top[0][1] > 50  # a head of cheap repeats ("666", "主播好")
    # One heavy talker per room is normal; one voice drowning everyone is not.
    speakers = Counter(event["user"]["id"] for event in events if event["type"] == "comment")
    assert speakers.most_common(1)[0][1] < 0.05 * len(texts)
    assert len(speakers) > 100


def test_returning_customers_come_back_with_their_links(events: list[dict[str, Any]]) -> None:
    by_union: dict[str, set[str]] = {}
    by_phone: dict[str, set[str]] = {}
    nickname_by_user: dict[str, str] = {}
    for event in events:
        user = event.get("user")
        if user is None:
            continue
        nickname_by_user[user["id"]] = user["nickname"]
        if "union_id" in user:
            by_union.setdefault(user["union_id"], set()).add(user["id"])
        if "phone_hash" in user:
            by_phone.setdefault(user["phone_hash"], set()).add(user["id"])
    for customer in CUSTOMERS:
        if customer.union_id:
            # Under one NEW platform id, always carrying the union_id.
            (user_id,) = by_union[customer.union_id]
            assert user_id != customer.platform_user_id
            assert nickname_by_user[user_id] == customer.nickname
        elif customer.phone_hash:
            (user_id,) = by_phone[customer.phone_hash]
            assert user_id != customer.platform_user_id
        else:
            assert customer.platform_user_id in nickname_by_user
    # Strangers carry no links.
    linked = set().union(*by_union.values(), *by_phone.values())
    assert len(linked) == 3


def test_orders_refunds_and_stock_are_consistent_integers(events: list[dict[str, Any]]) -> None:
    prices = {product.sku: product.price_cents for product in CATALOGUE}
    paid: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["type"] == "order":
            order = event["order"]
            assert order["status"] == "paid"
            assert type(order["amount_cents"]) is int
            assert order["amount_cents"] == sum(
                item["qty"] * item["price_cents"] for item in order["items"]
            )
            for item in order["items"]:
                assert type(item["qty"]) is int and item["qty"] >= 1
                assert item["price_cents"] == prices[item["sku"]]
            assert order["order_id"] not in paid
            paid[order["order_id"]] = event
        elif event["type"] == "refund":
            order = event["order"]
            assert order["status"] == "refunded"
            original = paid.pop(order["order_id"])  # refunded at most once, after it was paid
            assert event["user"]["id"] == original["user"]["id"]
            assert order["amount_cents"] == original["order"]["amount_cents"]
        elif event["type"] == "stock":
            assert "user" not in event
            assert event["stock"]["sku"] in prices
            remaining = event["stock"]["remaining"]
            assert type(remaining) is int and remaining >= 0


def test_stock_sells_down_over_a_session() -> None:
    sim = SessionSimulator("room-1", seed=3, run_id="t")
    for index in range(100):
        sim.next_batch(100, START_MS + index * 5_000, span_ms=5_000)
    sold = [product for product in CATALOGUE if sim.stock[product.sku] < product.initial_stock]
    assert sold, "orders must lower the remaining stock"


def test_same_seed_same_session_and_run_ids_keep_runs_apart() -> None:
    first = generate(2_000, run_id="a")
    again = generate(2_000, run_id="a")
    other_run = generate(2_000, run_id="b")
    assert first == again
    assert [e.get("content") for e in first] == [e.get("content") for e in other_run]
    assert not {e["id"] for e in first} & {e["id"] for e in other_run}
    other_seed = generate(2_000, seed=8, run_id="a")
    assert [e.get("content") for e in first] != [e.get("content") for e in other_seed]


def test_phases_follow_the_session_clock() -> None:
    sim = SessionSimulator("room-1", seed=1, run_id="t")
    names = [sim.phase_at(START_MS + second * 1000).name for second in range(0, 2000, 10)]
    assert names[0] == "开场"
    assert {"讲解", "秒杀"} <= set(names)
    products = {sim.phase_at(START_MS + second * 1000).product.sku for second in range(0, 2000)}
    assert len(products) > 1


def test_danmaku_sampler_follows_its_category_weights() -> None:
    rng = random.Random(11)
    drawn = [sample_danmaku(rng) for _ in range(20_000)]
    counts = Counter(d.category for d in drawn)
    for category in Category:
        assert counts[category] / len(drawn) == pytest.approx(
            DEFAULT_SAMPLER.share(category), abs=0.012
        )
    assert all(0 < len(d.text) <= 500 for d in drawn)
    assert isinstance(sample_comment(rng), str)
    assert any(d.text == "已拍" for d in drawn if d.category is Category.PURCHASE)
    assert any("贵" in d.text for d in drawn if d.category is Category.PRICE)


def test_duplicate_share() -> None:
    assert duplicate_share([]) == 0.0
    assert duplicate_share(["a", "b", "a", "a"]) == 0.5


def test_load_demo_customers_merges_member_rows(tmp_path: Path) -> None:
    csv_file = tmp_path / "crm.csv"
    csv_file.write_text(
        "member_id,nickname,phone_hash,union_id,platform,platform_user_id,order_id,amount_cents\n"
        "M1,王姐,ph1,U-1,douyin,dy_1,,\n"
        "M1,王姐,,U-1,kuaishou,ks_1,O-1,100\n"
        "M2,李哥,ph2,,douyin,dy_2,O-2,200\n"
        "M3,无名,,,,,O-3,300\n",
        encoding="utf-8",
    )
    assert load_demo_customers(csv_file) == [
        DemoCustomer("王姐", "U-1", "ph1", platform_user_id="dy_1", platform="douyin"),
        DemoCustomer("李哥", None, "ph2", platform_user_id="dy_2", platform="douyin"),
    ]
    assert load_demo_customers(tmp_path / "missing.csv") == []


def test_the_demo_customer_base_lives_under_the_rules_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVEDESK_RULES_DIR", str(tmp_path))
    assert default_customers_file() == tmp_path / "examples" / "crm_customers.csv"
