"""Tier, RFM, segment and churn decisions: worked examples plus properties over random histories."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livedesk.customers.profile import (
    ChurnRisk,
    ItemLine,
    OrderPoint,
    PaidOrder,
    PurchaseHistory,
    RfmCuts,
    churn_risk_for,
    expected_interval_days,
    history_from_orders,
    profile_for,
    repurchase_count,
    rfm_for,
    segment_for,
    tier_for,
    tier_for_totals,
    tier_rank,
)
from livedesk.rulebook.customers import TierRules

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def order(days_ago: float, amount_cents: int, order_id: str = "", sku: str = "SKU-1") -> PaidOrder:
    return PaidOrder(
        order_id=order_id or f"O-{days_ago}-{amount_cents}",
        ordered_at=NOW - timedelta(days=days_ago),
        amount_cents=amount_cents,
        items=(ItemLine(sku, f"商品{sku}"),),
    )


orders_strategy = st.lists(
    st.builds(
        PaidOrder,
        order_id=st.uuids().map(str),
        ordered_at=st.integers(0, 900 * 86_400).map(lambda s: NOW - timedelta(seconds=s)),
        amount_cents=st.integers(0, 2_000_000),
        items=st.just((ItemLine("SKU-1", "精华"),)),
    ),
    max_size=30,
    unique_by=lambda o: o.order_id,
)


# --- examples ------------------------------------------------------------------------------


def test_wang_jie_is_diamond_and_vip(tier_rules: TierRules) -> None:
    history = history_from_orders(
        [
            order(256, 268_000, "O-1"),
            order(129, 98_800, "O-2"),
            PaidOrder(
                "O-3", NOW - timedelta(days=35), 316_000, (ItemLine("SKU-AA", "抗老精华", 2),)
            ),
        ]
    )
    assert history.order_count == 3
    assert history.last_item == "抗老精华"
    assert repurchase_count(history) == 2
    profile = profile_for(history, tier_rules, NOW)
    assert profile.tier.label == "钻石"
    # r: 35 days → 3; f: 3 orders → 3; m: ¥6,828 → 4 (≥ ¥3,000, < ¥8,000)
    assert (profile.rfm.r, profile.rfm.f, profile.rfm.m) == (3, 3, 4)
    assert profile.rfm.score == pytest.approx(0.4 * 3 + 0.3 * 3 + 0.3 * 4)
    # 3.3 is short of vip (4.0): a diamond who has not ordered for a month is "potential".
    assert profile.segment.id == "potential"
    assert profile.days_since_last == 35


def test_window_drops_old_orders(tier_rules: TierRules) -> None:
    old_big = history_from_orders([order(400, 900_000), order(380, 900_000), order(370, 900_000)])
    assert tier_for(old_big, tier_rules, NOW).id == "bronze"
    lifetime = tier_rules.model_copy(update={"window_days": None})
    assert tier_for(old_big, lifetime, NOW).id == "diamond"


def test_tier_needs_both_spend_and_orders(tier_rules: TierRules) -> None:
    assert tier_for_totals(1, 10_000_000, tier_rules).id == "silver"
    assert tier_for_totals(50, 100, tier_rules).id == "bronze"
    assert tier_for_totals(3, 600_000, tier_rules).id == "diamond"
    assert tier_for_totals(2, 599_999, tier_rules).id == "gold"


def test_rfm_cut_points_are_inclusive(tier_rules: TierRules) -> None:
    at_seven_days = history_from_orders([order(7, 30_000)])
    rfm = rfm_for(at_seven_days, tier_rules, NOW)
    assert (rfm.r, rfm.f, rfm.m) == (5, 1, 2)
    just_over = history_from_orders([order(8, 29_999)])
    rfm = rfm_for(just_over, tier_rules, NOW)
    assert (rfm.r, rfm.m) == (4, 1)
    ancient = history_from_orders([order(181, 1)])
    assert rfm_for(ancient, tier_rules, NOW).r == 1


def test_session_kind_changes_weights_only(tier_rules: TierRules) -> None:
    history = history_from_orders([order(3, 900_000), order(200, 10)])
    daily = rfm_for(history, tier_rules, NOW, "daily")
    promo = rfm_for(history, tier_rules, NOW, "big_promotion")
    assert (daily.r, daily.f, daily.m) == (promo.r, promo.f, promo.m) == (5, 2, 5)
    assert daily.score == round(0.4 * 5 + 0.3 * 2 + 0.3 * 5, 2)
    assert promo.score == round(0.2 * 5 + 0.3 * 2 + 0.5 * 5, 2)


def test_segments(tier_rules: TierRules) -> None:
    def segment_of(history: PurchaseHistory) -> str:
        return segment_for(history, rfm_for(history, tier_rules, NOW), tier_rules, NOW).id

    assert segment_of(PurchaseHistory()) == "new"
    assert segment_of(history_from_orders([order(10, 5_000)])) == "new"
    assert segment_of(history_from_orders([order(45, 5_000)])) == "regular"
    assert segment_of(history_from_orders([order(200, 900_000), order(190, 900_000)])) == "silent"
    frequent_big = [order(d, 200_000, f"O{d}") for d in (2, 20, 40, 60, 80, 100)]
    assert segment_of(history_from_orders(frequent_big)) == "vip"
    assert segment_of(history_from_orders([order(20, 40_000), order(50, 40_000)])) == "potential"


def test_churn_risk_relative_to_own_rhythm(tier_rules: TierRules) -> None:
    # Orders every 10 days, the last 16 days ago: 1.6 intervals overdue → medium.
    every_ten = history_from_orders([order(16 + 10 * i, 1_000, f"O{i}") for i in range(4)])
    assert expected_interval_days(every_ten, tier_rules) == pytest.approx(10)
    assert churn_risk_for(every_ten, tier_rules, NOW) is ChurnRisk.MEDIUM
    assert churn_risk_for(every_ten, tier_rules, NOW - timedelta(days=10)) is ChurnRisk.LOW
    assert churn_risk_for(every_ten, tier_rules, NOW + timedelta(days=14)) is ChurnRisk.HIGH
    # Two orders on one day: the interval floor (7 days) keeps them from looking lost at once.
    same_day = history_from_orders([order(3, 1_000, "A"), order(3.1, 1_000, "B")])
    assert expected_interval_days(same_day, tier_rules) == 7
    assert churn_risk_for(same_day, tier_rules, NOW) is ChurnRisk.LOW
    # One order: the default interval (60 days); 190 days → ratio 3.2 → high.
    assert churn_risk_for(history_from_orders([order(190, 1)]), tier_rules, NOW) is ChurnRisk.HIGH
    assert churn_risk_for(PurchaseHistory(), tier_rules, NOW) is None


def test_no_orders(tier_rules: TierRules) -> None:
    profile = profile_for(PurchaseHistory(), tier_rules, NOW)
    assert profile.tier.id == "bronze"
    assert (profile.rfm.r, profile.rfm.f, profile.rfm.m, profile.rfm.score) == (1, 1, 1, 1.0)
    assert profile.segment.id == "new"
    assert profile.segment.churn_risk is None
    assert profile.repurchase_count == 0
    assert profile.to_dict()["churn_risk"] is None


def test_history_rejects_inconsistent_input() -> None:
    naive = datetime(2026, 1, 1)  # naive on purpose
    with pytest.raises(ValueError, match="timezone-aware"):
        PurchaseHistory(1, 100, naive, naive)
    with pytest.raises(ValueError, match="exactly when"):
        PurchaseHistory(order_count=2, total_spent_cents=100)
    with pytest.raises(ValueError, match="after"):
        PurchaseHistory(2, 100, NOW, NOW - timedelta(days=1))


def test_quantile_cuts(tier_rules: TierRules) -> None:
    quantile_rules = tier_rules.model_copy(
        update={"rfm": tier_rules.rfm.model_copy(update={"method": "quantiles"})}
    )
    # Most customers bought once: buying once must not earn a high frequency score.
    population = [history_from_orders([order(d, 10_000 * d, f"O{d}")]) for d in range(1, 40)]
    population.append(history_from_orders([order(1, 5, "X"), order(2, 5, "Y"), order(3, 5, "Z")]))
    cuts = RfmCuts.from_population(population, quantile_rules, NOW)
    assert cuts is not None
    assert rfm_for(population[0], quantile_rules, NOW, cuts=cuts).f == 1
    assert rfm_for(population[-1], quantile_rules, NOW, cuts=cuts).f == 5
    # Recency: the most recent customer is in the top fifth, the oldest in the bottom one.
    assert rfm_for(population[0], quantile_rules, NOW, cuts=cuts).r == 5
    assert rfm_for(population[38], quantile_rules, NOW, cuts=cuts).r == 1
    # Too few customers to have quintiles: the rules' cut points are used.
    assert RfmCuts.from_population(population[:4], quantile_rules, NOW) is None
    # A thresholds rulebook ignores population cuts.
    assert rfm_for(population[0], tier_rules, NOW, cuts=cuts) == rfm_for(
        population[0], tier_rules, NOW
    )


# --- properties ----------------------------------------------------------------------------


@given(
    orders=st.integers(0, 50),
    spent=st.integers(0, 5_000_000),
    more_orders=st.integers(0, 50),
    more_spent=st.integers(0, 5_000_000),
)
def test_tier_is_monotone_in_spend_and_orders(
    tier_rules: TierRules, orders: int, spent: int, more_orders: int, more_spent: int
) -> None:
    low = tier_for_totals(orders, spent, tier_rules)
    high = tier_for_totals(orders + more_orders, spent + more_spent, tier_rules)
    assert tier_rank(low, tier_rules) <= tier_rank(high, tier_rules)


@given(
    orders=orders_strategy, extra_days_ago=st.integers(0, 900), extra_cents=st.integers(0, 10**6)
)
def test_another_order_never_lowers_tier_or_scores(
    tier_rules: TierRules, orders: list[PaidOrder], extra_days_ago: int, extra_cents: int
) -> None:
    before = history_from_orders(orders)
    after = history_from_orders([*orders, order(extra_days_ago, extra_cents, "extra")])
    assert tier_rank(tier_for(before, tier_rules, NOW), tier_rules) <= tier_rank(
        tier_for(after, tier_rules, NOW), tier_rules
    )
    for kind in ("daily", "big_promotion"):
        rfm_before = rfm_for(before, tier_rules, NOW, kind)
        rfm_after = rfm_for(after, tier_rules, NOW, kind)
        assert rfm_before.r <= rfm_after.r
        assert rfm_before.f <= rfm_after.f
        assert rfm_before.m <= rfm_after.m
        assert rfm_before.score <= rfm_after.score


@given(orders=orders_strategy, days_later=st.integers(0, 400))
def test_scores_in_range_and_recency_decays(
    tier_rules: TierRules, orders: list[PaidOrder], days_later: int
) -> None:
    history = history_from_orders(orders)
    now_rfm = rfm_for(history, tier_rules, NOW)
    later_rfm = rfm_for(history, tier_rules, NOW + timedelta(days=days_later))
    for rfm in (now_rfm, later_rfm):
        assert all(1 <= score <= 5 for score in (rfm.r, rfm.f, rfm.m))
        assert 1.0 <= rfm.score <= 5.0
    assert later_rfm.r <= now_rfm.r
    if not orders:
        assert segment_for(history, now_rfm, tier_rules, NOW).id == "new"


@given(orders=orders_strategy, data=st.data())
@settings(max_examples=60)
def test_decisions_ignore_the_order_of_orders(
    tier_rules: TierRules, orders: list[PaidOrder], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(orders))
    history = history_from_orders(orders)
    assert history_from_orders(shuffled) == history
    # A caller that builds the history itself may list recent orders in any order.
    reordered = replace(
        history, recent_orders=tuple(data.draw(st.permutations(history.recent_orders)))
    )
    for kind in ("daily", "big_promotion"):
        assert profile_for(reordered, tier_rules, NOW, kind) == profile_for(
            history, tier_rules, NOW, kind
        )


@given(orders=orders_strategy)
def test_repurchase_count(orders: list[PaidOrder]) -> None:
    history = history_from_orders(orders)
    assert repurchase_count(history) == max(len(orders) - 1, 0)
    assert history.total_spent_cents == sum(o.amount_cents for o in orders)
    assert all(isinstance(p, OrderPoint) for p in history.recent_orders)
