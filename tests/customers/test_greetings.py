"""Greeting texts, ops flags and the host's attention budget (GreetingQueue)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livedesk.cues.greeting_queue import Greeting, GreetingQueue, Outcome
from livedesk.cues.greetings import Flag, GreetingCandidate, greeting_candidate
from livedesk.customers.do_not_greet import DoNotGreet
from livedesk.customers.profile import ItemLine, PaidOrder, history_from_orders, profile_for
from livedesk.rulebook.customers import TierRules
from livedesk.rulebook.greetings import GreetingRules

NOW = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def paid(days_ago: float, amount_cents: int, sku: str, name: str, order_id: str) -> PaidOrder:
    return PaidOrder(order_id, NOW - timedelta(days=days_ago), amount_cents, (ItemLine(sku, name),))


WANG_JIE = [
    paid(256, 268_000, "SKU-CREAM-50", "抗皱面霜", "O-1"),
    paid(129, 98_800, "SKU-TONER-200", "精华水", "O-2"),
    paid(35, 316_000, "SKU-SERUM-AA30", "抗老精华", "O-3"),
]


def candidate_for(
    orders: list[PaidOrder],
    nickname: str | None,
    tier_rules: TierRules,
    greeting_rules: GreetingRules,
    customer_id: str = "c1",
    do_not_greet: DoNotGreet | None = None,
) -> GreetingCandidate | None:
    history = history_from_orders(orders)
    profile = profile_for(history, tier_rules, NOW)
    return greeting_candidate(
        customer_id, nickname, history, profile, greeting_rules, do_not_greet=do_not_greet
    )


# --- texts ---------------------------------------------------------------------------------


def test_diamond_greeting_names_the_last_item(
    tier_rules: TierRules, greeting_rules: GreetingRules
) -> None:
    candidate = candidate_for(WANG_JIE, "王姐", tier_rules, greeting_rules)
    assert candidate is not None
    assert candidate.text == "欢迎钻石王姐回家，上次的抗老精华用得怎么样？"
    assert candidate.tier_priority == 40
    assert candidate.scene == "可以提一下抗老精华的回购装"
    assert candidate.flags == ()


def test_silent_gold_customer_gets_the_long_time_no_see_line_and_ops_flags(
    tier_rules: TierRules, greeting_rules: GreetingRules
) -> None:
    orders = [paid(337, 268_000, "SKU-X", "面霜", "A"), paid(311, 19_900, "SKU-Y", "面膜", "B")]
    candidate = candidate_for(orders, "陈阿姨", tier_rules, greeting_rules)
    assert candidate is not None
    assert candidate.text == "黄金陈阿姨好久不见！距上次下单已经311天啦，欢迎回家"
    assert candidate.flags == (Flag.LONG_ABSENCE, Flag.SILENT_RETURNED)
    offer = GreetingQueue(greeting_rules).offer(candidate, NOW)
    assert offer.outcome is Outcome.QUEUED
    assert [n.kind for n in offer.notices] == [Flag.LONG_ABSENCE, Flag.SILENT_RETURNED]
    assert offer.notices[1].text == "陈阿姨（黄金）：沉默客户回来了"


def test_template_needing_a_missing_value_is_skipped(
    tier_rules: TierRules, greeting_rules: GreetingRules
) -> None:
    # A diamond whose last order has no item name: the {last_item} line cannot be used.
    orders = [
        PaidOrder(f"O{i}", NOW - timedelta(days=10 * i + 5), 300_000, (ItemLine("S", ""),))
        for i in range(4)
    ]
    candidate = candidate_for(orders, "李哥", tier_rules, greeting_rules)
    assert candidate is not None
    assert candidate.tier_id == "diamond"
    assert candidate.segment_id == "vip"
    assert candidate.text == "欢迎李哥回来，谢谢一直以来的支持，已经回购3次啦"


def test_scene_from_the_product_map(tier_rules: TierRules, greeting_rules: GreetingRules) -> None:
    orders = [paid(81, 299_900, "SKU-COFFEE-M1", "意式咖啡机", "O-9")]
    candidate = candidate_for(orders, "老周", tier_rules, greeting_rules)
    assert candidate is not None
    assert candidate.scene == "可以提一下新到的咖啡豆"
    assert candidate.text == "欢迎老周回来～"


@pytest.mark.parametrize(
    ("nickname", "shown"),
    [
        ("{0.__class__}", "{0.__class__}"),
        ("{tier_label}", "{tier_label}"),
        ("{nickname}{{}}", "{nickname}{{}}"),
        ("王姐\n\u202e坏\x00人", "王姐 坏人"),
        ("   ", "老朋友"),
        (None, "老朋友"),
        ("一二三四五六七八九十一二三四五六七八", "一二三四五六七八九十一二三四五…"),
    ],
)
def test_nicknames_are_values_never_templates(
    tier_rules: TierRules, greeting_rules: GreetingRules, nickname: str | None, shown: str
) -> None:
    candidate = candidate_for(WANG_JIE, nickname, tier_rules, greeting_rules)
    assert candidate is not None
    assert candidate.nickname == shown
    assert candidate.text == f"欢迎钻石{shown}回家，上次的抗老精华用得怎么样？"


def test_customers_without_orders_are_not_greeted(
    tier_rules: TierRules, greeting_rules: GreetingRules
) -> None:
    assert candidate_for([], "小张", tier_rules, greeting_rules) is None


def test_do_not_greet_goes_to_ops_once(
    tier_rules: TierRules, greeting_rules: GreetingRules
) -> None:
    candidate = candidate_for(
        WANG_JIE, "王姐", tier_rules, greeting_rules, do_not_greet=DoNotGreet.REFUND_IN_PROGRESS
    )
    assert candidate is not None
    queue = GreetingQueue(greeting_rules)
    offer = queue.offer(candidate, NOW)
    assert offer.outcome is Outcome.DO_NOT_GREET
    assert offer.notices[0].kind is DoNotGreet.REFUND_IN_PROGRESS
    assert offer.notices[0].text == "王姐进入直播间（退款处理中），请勿点名"
    assert queue.drain(NOW + 10 * SECOND) == []
    assert queue.offer(candidate, NOW + 20 * SECOND).outcome is Outcome.DUPLICATE


# --- the queue -----------------------------------------------------------------------------


def make(customer_id: str, priority: int, spent_cents: int, name: str = "") -> GreetingCandidate:
    return GreetingCandidate(
        customer_id=customer_id,
        nickname=name or f"客{customer_id}",
        tier_id=f"t{priority}",
        tier_label=f"T{priority}",
        tier_priority=priority,
        segment_id="regular",
        total_spent_cents=spent_cents,
        text=f"欢迎{name or customer_id}",
    )


def test_fifty_at_once(tier_rules: TierRules, greeting_rules: GreetingRules) -> None:
    crowd: list[GreetingCandidate] = []
    for i in range(50):
        nickname = ["王姐", "李哥", "小张"][i] if i < 3 else f"观众{i}"
        amount = 900_000 - i * 1_000 if i < 3 else 20_000 + i * 3_000
        sku = "SKU-SERUM-AA30" if i < 3 else "SKU-MASK-10"
        orders = [paid(20 + j * 30, amount, sku, "商品", f"O{i}-{j}") for j in range(3)]
        candidate = candidate_for(orders, nickname, tier_rules, greeting_rules, f"c{i}")
        assert candidate is not None
        crowd.append(candidate)
    # Entered in an order unrelated to value: the three diamonds last.
    crowd.reverse()
    queue = GreetingQueue(greeting_rules)
    for k, candidate in enumerate(crowd):
        assert queue.offer(candidate, NOW + k * 0.01 * SECOND).outcome is Outcome.QUEUED
    half_burst = greeting_rules.queue.burst_window_s / 2
    assert queue.drain(NOW + half_burst * SECOND) == []  # the burst is still gathering

    lines = queue.drain(NOW + 3 * SECOND)
    assert len(lines) == greeting_rules.queue.per_minute == 6
    singles, merged = lines[:5], lines[5]
    assert [g.customer_ids[0] for g in singles[:3]] == ["c0", "c1", "c2"]  # diamonds first
    assert [g.tier_label for g in singles[:3]] == ["钻石"] * 3
    priorities = [next(c for c in crowd if c.customer_id == g.customer_ids[0]) for g in singles]
    ranks = [(-c.tier_priority, -c.total_spent_cents) for c in priorities]
    assert ranks == sorted(ranks)
    assert merged.merged and len(merged.customer_ids) == 45
    top3 = sorted(
        (c for c in crowd if c.customer_id not in {g.customer_ids[0] for g in singles}),
        key=lambda c: (-c.tier_priority, -c.total_spent_cents),
    )[:3]
    assert merged.text == f"欢迎{'、'.join(c.nickname for c in top3)}等45位老朋友回来"
    assert len({cid for g in lines for cid in g.customer_ids}) == 50

    # Nobody gets a second greeting this session, greeted alone or in the merged line.
    for candidate in (crowd[-1], crowd[0]):
        assert queue.offer(candidate, NOW + 30 * SECOND).outcome is Outcome.DUPLICATE
    # The next newcomer waits until the minute has passed.
    assert queue.offer(make("late", 10, 1), NOW + 30 * SECOND).outcome is Outcome.QUEUED
    assert queue.drain(NOW + 40 * SECOND) == []
    assert queue.next_drain_at() == NOW + 63 * SECOND
    assert queue.drain(NOW + 62 * SECOND) == []
    late = queue.drain(NOW + 63 * SECOND)
    assert [g.customer_ids for g in late] == [("late",)]


def test_stale_candidates_expire(greeting_rules: GreetingRules) -> None:
    queue = GreetingQueue(greeting_rules)
    for i in range(6):
        queue.offer(make(f"a{i}", 10, 1), NOW)
    assert len(queue.drain(NOW + 2 * SECOND)) == 6
    queue.offer(make("b", 10, 1), NOW + 5 * SECOND)
    queue.offer(make("c", 10, 1), NOW + 40 * SECOND)
    # At 96 s "b" has waited 91 s (> max_wait_s 90): dropped; "c" is shown.
    shown = queue.drain(NOW + 96 * SECOND)
    assert [g.customer_ids for g in shown] == [("c",)]
    assert queue.expired_count == 1
    # Expired is not greeted: "b" may be offered again.
    assert queue.offer(make("b", 10, 1), NOW + 97 * SECOND).outcome is Outcome.QUEUED


def test_full_queue_keeps_the_best(greeting_rules: GreetingRules) -> None:
    rules = greeting_rules.model_copy(
        update={"queue": greeting_rules.queue.model_copy(update={"max_pending": 3})}
    )
    queue = GreetingQueue(rules)
    for name, priority in (("a", 10), ("b", 20), ("c", 30)):
        assert queue.offer(make(name, priority, 1), NOW).outcome is Outcome.QUEUED
    assert queue.offer(make("low", 5, 1), NOW).outcome is Outcome.DROPPED
    assert queue.offer(make("vip", 40, 1), NOW).outcome is Outcome.QUEUED  # pushes "a" out
    assert queue.waiting_count == 3
    shown = queue.drain(NOW + 5 * SECOND)
    assert [g.customer_ids[0] for g in shown] == ["vip", "c", "b"]
    assert queue.dropped_count == 2


def test_regreet_when_not_once_per_session(greeting_rules: GreetingRules) -> None:
    rules = greeting_rules.model_copy(
        update={
            "queue": greeting_rules.queue.model_copy(
                update={"once_per_session": False, "regreet_after_s": 600}
            )
        }
    )
    queue = GreetingQueue(rules)
    queue.offer(make("a", 10, 1), NOW)
    assert queue.offer(make("a", 10, 1), NOW + SECOND).outcome is Outcome.DUPLICATE  # waiting
    assert len(queue.drain(NOW + 2 * SECOND)) == 1
    assert queue.offer(make("a", 10, 1), NOW + 300 * SECOND).outcome is Outcome.DUPLICATE
    assert queue.offer(make("a", 10, 1), NOW + 603 * SECOND).outcome is Outcome.QUEUED


def test_withdraw_a_waiting_greeting(greeting_rules: GreetingRules) -> None:
    queue = GreetingQueue(greeting_rules)
    assert queue.next_drain_at() is None
    queue.offer(make("a", 10, 1), NOW)
    queue.offer(make("b", 10, 1), NOW)
    assert queue.withdraw("a") is True
    assert queue.withdraw("a") is False
    assert [g.customer_ids for g in queue.drain(NOW + 2 * SECOND)] == [("b",)]
    assert queue.next_drain_at() is None


def test_state_version_is_checked(greeting_rules: GreetingRules) -> None:
    state = GreetingQueue(greeting_rules).to_dict()
    state["version"] = 99
    with pytest.raises(ValueError, match="version"):
        GreetingQueue.from_dict(state, greeting_rules)


# ("offer", customer index, priority, spend, seconds later) or ("drain", 0, 0, 0, seconds later)
Op = tuple[str, int, int, int, float]
operation = st.one_of(
    st.tuples(
        st.just("offer"),
        st.integers(0, 30),
        st.sampled_from([10, 20, 30, 40]),
        st.integers(0, 10**6),
        st.floats(0, 3),
    ),
    st.tuples(st.just("drain"), st.just(0), st.just(0), st.just(0), st.floats(0, 40)),
)


def _run(
    queue: GreetingQueue, operations: list[Op], start: datetime
) -> tuple[list[object], list[tuple[datetime, Greeting]], datetime]:
    results: list[object] = []
    shown: list[tuple[datetime, Greeting]] = []
    now = start
    for kind, index, priority, spend, later_s in operations:
        now += timedelta(seconds=later_s)
        if kind == "offer":
            candidate = make(f"c{index}", priority, spend)
            if index == 0:
                data = {**candidate.to_dict(), "do_not_greet": DoNotGreet.OPTED_OUT.value}
                candidate = GreetingCandidate.from_dict(data)
            results.append(queue.offer(candidate, now))
        else:
            lines = queue.drain(now)
            results.append(lines)
            shown.extend((now, line) for line in lines)
    return results, shown, now


@given(ops=st.lists(operation, max_size=60), split=st.integers(0, 60))
@settings(max_examples=80, deadline=None)
def test_queue_survives_a_move_between_processes_and_keeps_its_budget(
    greeting_rules: GreetingRules, ops: list[Op], split: int
) -> None:
    straight = GreetingQueue(greeting_rules)
    results, shown, _ = _run(straight, ops, NOW)

    moved = GreetingQueue(greeting_rules)
    first, _, now = _run(moved, ops[:split], NOW)
    state = json.loads(json.dumps(moved.to_dict()))  # what the database would store
    moved = GreetingQueue.from_dict(state, greeting_rules)
    second, _, _ = _run(moved, ops[split:], now)
    assert first + second == results
    assert moved.to_dict() == straight.to_dict()

    # The budget: no 60-second span shows more than per_minute lines.
    times = [moment for moment, _ in shown]
    for i, moment in enumerate(times):
        in_window = [t for t in times[i:] if t - moment < timedelta(minutes=1)]
        assert len(in_window) <= greeting_rules.queue.per_minute
    # Once per session: each customer appears in at most one line.
    greeted = [cid for _, line in shown for cid in line.customer_ids]
    assert len(greeted) == len(set(greeted))
    assert "c0" not in greeted  # opted out
