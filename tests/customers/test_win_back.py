"""流失预警 as a greeting priority (issue 18 point 3): a customer at churn risk who comes back
gets the 沉睡老客回归 line, is greeted before higher tiers, and ops get one notice with the
reason. Pure decisions, hand-computed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from livedesk.cues.greeting_queue import GreetingQueue
from livedesk.cues.greetings import Flag, greeting_candidate
from livedesk.customers.churn import churn_warning
from livedesk.customers.profile import ItemLine, PaidOrder, history_from_orders, profile_for
from livedesk.rulebook.customers import TierRules
from livedesk.rulebook.greetings import GreetingRules

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


def _candidate(customer_id: str, name: str, orders: list[tuple[int, int]], tiers, greetings):  # type: ignore[no-untyped-def]
    history = history_from_orders(
        PaidOrder(
            f"{customer_id}-{i}", NOW - timedelta(days=d), yuan * 100, (ItemLine("S", "精华"),)
        )
        for i, (d, yuan) in enumerate(orders)
    )
    profile = profile_for(history, tiers, NOW)
    # Seen in a live room a day ago: only their orders speak.
    churn = churn_warning(history, NOW - timedelta(days=1), tiers, NOW)
    return greeting_candidate(customer_id, name, history, profile, greetings, churn=churn)


def test_a_sleeping_customer_is_greeted_first_with_the_win_back_line(
    tier_rules: TierRules, greeting_rules: GreetingRules
) -> None:
    # 老周: gold (¥3,000 in 2 orders), last ordered 10 days ago: not at risk.
    zhou = _candidate("c-zhou", "老周", [(40, 1500), (10, 1500)], tier_rules, greeting_rules)
    # 小林: one ¥99 order 75 days ago (bronze): 75 days without an order (medium from 60).
    lin = _candidate("c-lin", "小林", [(75, 99)], tier_rules, greeting_rules)
    assert zhou is not None and lin is not None
    assert zhou.churn_level is None and zhou.tier_id == "gold"
    assert lin.churn_level == "medium" and lin.tier_id == "bronze"
    assert lin.text == "小林好久不见，想你啦！欢迎回来，今天有老朋友专属福利"
    assert lin.flags == (Flag.WIN_BACK,)  # one notice, not 久未下单 and 沉默 as well
    queue = GreetingQueue(greeting_rules)
    assert queue.offer(zhou, NOW).notices == ()
    offer = queue.offer(lin, NOW)
    assert [n.text for n in offer.notices] == ["小林（青铜）：沉睡老客回归（中风险：75 天未下单）"]
    # One slot left this minute: the sleeping customer goes first, 老周 waits.
    rules = greeting_rules.model_copy(
        update={"queue": greeting_rules.queue.model_copy(update={"per_minute": 2})}
    )
    queue = GreetingQueue(rules)
    queue.offer(zhou, NOW)
    queue.offer(lin, NOW)
    first = queue.drain(NOW + timedelta(seconds=5))
    assert [g.nicknames for g in first] == [("小林",), ("老周",)]
    # Without win_back_first the tier decides.
    tiers_first = rules.model_copy(
        update={"queue": rules.queue.model_copy(update={"win_back_first": False})}
    )
    queue = GreetingQueue(tiers_first)
    queue.offer(lin, NOW)
    queue.offer(zhou, NOW)
    assert [g.nicknames for g in queue.drain(NOW + timedelta(seconds=5))] == [
        ("老周",),
        ("小林",),
    ]
