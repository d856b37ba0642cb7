"""Ops alerts: open once, stay quiet while the condition holds, resolve with hysteresis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from livedesk.analysis.windows import RoomWindows
from livedesk.cues.alerts import (
    Alert,
    AlertDecisions,
    AlertInputs,
    AlertState,
    decide_alerts,
)
from livedesk.rulebook.cues import AlertRules

T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


def decide(
    now: datetime, windows: RoomWindows, state: AlertState, rules: AlertRules, **inputs: object
) -> AlertDecisions:
    snapshot = AlertInputs(
        windows=windows,
        session_orders=int(inputs.get("orders", 0)),  # type: ignore[call-overload]
        session_refunds=int(inputs.get("refunds", 0)),  # type: ignore[call-overload]
        stock_by_sku=inputs.get("stock", {}),  # type: ignore[arg-type]
        product_names={"SKU-SERUM-AA30": "抗老精华30ml"},
    )
    return decide_alerts(now, snapshot, state, rules)


def comments(windows: RoomWindows, at: datetime, negative: int, positive: int) -> None:
    for i in range(negative):
        windows.add_comment(at, f"n{at.timestamp()}-{i}", 0.1, [], ["质量差"])
    for i in range(positive):
        windows.add_comment(at, f"p{at.timestamp()}-{i}", 0.8, [], [])


def kinds(decisions: list[Alert]) -> list[str]:
    return [a.key for a in decisions]


def test_negative_spike_opens_once_holds_then_resolves(alert_rules: AlertRules) -> None:
    state = AlertState()
    # 25 scored comments, 48 % negative: over 40 % → open.
    windows = RoomWindows()
    comments(windows, T0, negative=12, positive=13)
    first = decide(T0, windows, state, alert_rules)
    assert kinds(first.opened) == ["negative_spike"]
    alert = first.opened[0]
    assert alert.severity == "warning" and alert.title == "负面情绪激增"
    assert "48%" in alert.detail and "质量差" in alert.detail
    # Still bad a few seconds later: no repeat.
    assert decide(T0 + timedelta(seconds=5), windows, state, alert_rules).opened == []

    # A minute later: 38 % negative — under the 40 % bar but not under 35 %: still open.
    later = T0 + timedelta(seconds=70)
    comments(windows, later, negative=19, positive=31)
    held = decide(later, windows, state, alert_rules)
    assert held.opened == [] and held.resolved == []
    # Then 20 %: resolves, once.
    calm = later + timedelta(seconds=60)
    comments(windows, calm, negative=10, positive=40)
    resolved = decide(calm, windows, state, alert_rules)
    assert kinds(resolved.resolved) == ["negative_spike"]
    assert resolved.resolved[0].resolved_at == calm
    assert decide(calm, windows, state, alert_rules).resolved == []


def test_negative_spike_needs_enough_comments(alert_rules: AlertRules) -> None:
    windows = RoomWindows()
    comments(windows, T0, negative=10, positive=0)  # all negative, but only 10 comments
    windows.add_comment(T0, "spam", None, is_spam=True)
    assert decide(T0, windows, AlertState(), alert_rules).opened == []


def complaints(windows: RoomWindows, at: datetime, n: int) -> None:
    for i in range(n):
        intent = "quality_complaint" if i % 2 else "after_sales"
        windows.add_comment(at, f"c{at.timestamp()}-{i}", 0.5, [intent])


@pytest.mark.parametrize(
    ("action", "expected_actions", "suggested"),
    [
        ("pause_promotions", ["pause_promotions"], None),
        ("suggest_pause", [], "pause_promotions"),
        ("none", [], None),
    ],
)
def test_complaint_surge_actions(
    alert_rules: AlertRules, action: str, expected_actions: list[str], suggested: str | None
) -> None:
    rules = alert_rules.model_copy(
        update={
            "complaint_surge": alert_rules.complaint_surge.model_copy(update={"action": action})
        }
    )
    windows, state = RoomWindows(), AlertState()
    complaints(windows, T0, 7)
    assert decide(T0, windows, state, rules).opened == []
    complaints(windows, T0 + timedelta(seconds=30), 1)
    decision = decide(T0 + timedelta(seconds=30), windows, state, rules)
    assert kinds(decision.opened) == ["complaint_surge"]
    assert decision.actions == expected_actions
    assert decision.opened[0].suggested_action == suggested
    assert decision.opened[0].severity == "critical"
    # Holding: no second pause.
    again = decide(T0 + timedelta(seconds=40), windows, state, rules)
    assert again.opened == [] and again.actions == []


def test_complaint_surge_hysteresis(alert_rules: AlertRules) -> None:
    windows, state = RoomWindows(), AlertState()
    complaints(windows, T0, 8)
    assert kinds(decide(T0, windows, state, alert_rules).opened) == ["complaint_surge"]
    # Five minutes on, the first burst has left the window; 5 fresh ones are >= clear_below 4.
    later = T0 + timedelta(seconds=310)
    complaints(windows, later, 5)
    assert decide(later, windows, state, alert_rules).resolved == []
    gone = later + timedelta(seconds=300)
    assert kinds(decide(gone, windows, state, alert_rules).resolved) == ["complaint_surge"]


def viewers(windows: RoomWindows, start: datetime, seconds: int, online: int) -> None:
    for s in range(0, seconds, 10):
        windows.record_viewers(start + timedelta(seconds=s), online)


def test_traffic_drop_against_previous_window(alert_rules: AlertRules) -> None:
    windows, state = RoomWindows(), AlertState()
    viewers(windows, T0, 300, 1000)
    viewers(windows, T0 + timedelta(seconds=300), 300, 650)  # 35 % fewer
    now = T0 + timedelta(seconds=590)
    decision = decide(now, windows, state, alert_rules)
    assert kinds(decision.opened) == ["traffic_drop"]
    assert "1000" in decision.opened[0].detail and "650" in decision.opened[0].detail
    # Next window levels off at 620 (5 % below 650): the drop has stopped, it resolves.
    viewers(windows, T0 + timedelta(seconds=600), 300, 620)
    assert kinds(decide(now + timedelta(seconds=300), windows, state, alert_rules).resolved) == [
        "traffic_drop"
    ]


def test_traffic_drop_ignores_small_rooms_and_missing_data(alert_rules: AlertRules) -> None:
    windows = RoomWindows()
    viewers(windows, T0, 300, 60)
    viewers(windows, T0 + timedelta(seconds=300), 300, 10)
    now = T0 + timedelta(seconds=590)
    assert decide(now, windows, AlertState(), alert_rules).opened == []
    assert decide(now, RoomWindows(), AlertState(), alert_rules).opened == []


def test_refund_rate(alert_rules: AlertRules) -> None:
    windows, state = RoomWindows(), AlertState()
    assert decide(T0, windows, state, alert_rules, orders=19, refunds=10).opened == []
    opened = decide(T0, windows, state, alert_rules, orders=30, refunds=5).opened  # 16.7 %
    assert kinds(opened) == ["refund_rate"]
    assert "30单" in opened[0].detail and "17%" in opened[0].detail
    # 14 % is under 15 % but over 13 %: still open. 12 % resolves.
    assert decide(T0, windows, state, alert_rules, orders=50, refunds=7).resolved == []
    resolved = decide(T0, windows, state, alert_rules, orders=50, refunds=6).resolved
    assert kinds(resolved) == ["refund_rate"]


def test_low_stock_per_sku_with_escalation_and_restock(alert_rules: AlertRules) -> None:
    windows, state = RoomWindows(), AlertState()
    stock = {"SKU-SERUM-AA30": 49, "SKU-CREAM-50": 300}
    first = decide(T0, windows, state, alert_rules, stock=stock)
    assert kinds(first.opened) == ["low_stock:SKU-SERUM-AA30"]
    assert first.opened[0].sku == "SKU-SERUM-AA30"
    assert first.opened[0].severity == "warning"
    assert "抗老精华30ml（SKU-SERUM-AA30）仅剩49件" in first.opened[0].detail
    # Down to 30: the open alert says so (same id), nothing new opens.
    fewer = decide(T0, windows, state, alert_rules, stock={**stock, "SKU-SERUM-AA30": 30})
    assert fewer.opened == [] and fewer.resolved == []
    assert [a.id for a in fewer.updated] == [first.opened[0].id]
    assert "仅剩30件" in fewer.updated[0].detail
    # Down to 8: the same key reopens as critical (old one resolved, new one opened).
    worse = decide(T0, windows, state, alert_rules, stock={**stock, "SKU-SERUM-AA30": 8})
    assert kinds(worse.resolved) == kinds(worse.opened) == ["low_stock:SKU-SERUM-AA30"]
    assert worse.opened[0].severity == "critical"
    # Sold out is announced: a new alert that says so, not 仅剩8件 left standing.
    sold_out = decide(T0, windows, state, alert_rules, stock={**stock, "SKU-SERUM-AA30": 0})
    assert [a.title for a in sold_out.opened] == ["商品已售罄"]
    assert kinds(sold_out.resolved) == ["low_stock:SKU-SERUM-AA30"]
    assert (
        decide(T0, windows, state, alert_rules, stock={**stock, "SKU-SERUM-AA30": 0}).updated == []
    )
    # A restock to 55 is still under clear_at 60; 80 resolves.
    assert decide(T0, windows, state, alert_rules, stock={"SKU-SERUM-AA30": 55}).resolved == []
    done = decide(T0, windows, state, alert_rules, stock={"SKU-SERUM-AA30": 80})
    assert kinds(done.resolved) == ["low_stock:SKU-SERUM-AA30"]
    # Unknown products are named by SKU; a SKU that leaves the list resolves.
    decide(T0, windows, state, alert_rules, stock={"SKU-X": 3})
    assert kinds(decide(T0, windows, state, alert_rules, stock={}).resolved) == ["low_stock:SKU-X"]


def test_disabling_a_rule_resolves_its_alert(alert_rules: AlertRules) -> None:
    windows, state = RoomWindows(), AlertState()
    decide(T0, windows, state, alert_rules, orders=40, refunds=20)
    off = alert_rules.model_copy(
        update={"refund_rate": alert_rules.refund_rate.model_copy(update={"enabled": False})}
    )
    assert kinds(decide(T0, windows, state, off, orders=40, refunds=20).resolved) == ["refund_rate"]


def test_state_round_trips_through_json(alert_rules: AlertRules) -> None:
    windows, state = RoomWindows(), AlertState()
    complaints(windows, T0, 10)
    decide(T0, windows, state, alert_rules, orders=40, refunds=20, stock={"SKU-X": 1})
    assert len(state.open) == 3
    restored = AlertState.from_dict(orjson.loads(orjson.dumps(state.to_dict())))
    assert restored == state
    again = decide(T0, windows, restored, alert_rules, orders=40, refunds=20, stock={"SKU-X": 1})
    assert again.opened == [] and again.resolved == []


@pytest.mark.parametrize(
    "bad",
    [
        {"low_stock": {"below": 50, "clear_at": 40}},
        {"traffic_drop": {"window_s": 600}},
        {"traffic_drop": {"drop_ratio": 0.2, "clear_ratio": 0.3}},
        {"complaint_surge": {"action": "pause_everything"}},
        {"complaint_surge": {"threshold": 3, "clear_below": 5}},
        {"negative_spike": {"negative_share_above": None, "sentiment_index_below": None}},
        {"refund_rate": {"rate_above": 15}},
        {"typo": {}},
    ],
)
def test_rule_validation(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AlertRules.model_validate(bad)


@settings(max_examples=100, deadline=None)
@given(levels=st.lists(st.integers(0, 120), min_size=1, max_size=60))
def test_stock_alerts_alternate_open_and_resolve(
    alert_rules: AlertRules, levels: list[int]
) -> None:
    """Per key, opens and resolves alternate; an alert opens only below the threshold and
    resolves only at or above clear_at (or on escalation, immediately reopened)."""
    rule = alert_rules.low_stock
    windows, state = RoomWindows(), AlertState()
    is_open = expected_open = False
    for step, left in enumerate(levels):
        now = T0 + timedelta(seconds=step)
        decision = decide(now, windows, state, alert_rules, stock={"S": left})
        resolved, opened = kinds(decision.resolved), kinds(decision.opened)
        if resolved:
            assert is_open
            assert left >= rule.clear_at or (opened and decision.opened[0].severity == "critical")
            is_open = False
        if opened:
            assert not is_open and left < rule.below
            is_open = True
        assert is_open == ("low_stock:S" in state.open)
        # The reference state machine: open below `below`, stays open until `clear_at`.
        expected_open = left < rule.below or (expected_open and left < rule.clear_at)
        assert is_open == expected_open
