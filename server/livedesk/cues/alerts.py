"""Ops alerts: negative-sentiment spikes, complaint surges, traffic drops, refunds, low stock.

`decide_alerts` is a pure decision (no I/O): it evaluates every rule in rules/alerts.yaml,
opens an alert when its condition starts to hold, stays quiet while it keeps holding, and
resolves it when it clears. Each condition has a looser "still holding" form (hysteresis), so
a figure jittering around its threshold does not open and resolve over and over. One alert per
dedupe key (`kind`, or `kind:sku` for stock). The `AlertState` is updated in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from livedesk.analysis.windows import RoomWindows
from livedesk.rulebook.cues import AlertRules, Severity

AlertKind = Literal["negative_spike", "complaint_surge", "traffic_drop", "refund_rate", "low_stock"]
ACTION_PAUSE_PROMOTIONS = "pause_promotions"
_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class Alert:
    key: str
    kind: AlertKind
    severity: Severity
    title: str
    detail: str
    opened_at: datetime
    sku: str | None = None
    # An action ops are advised to take (a button on the console), not taken automatically.
    suggested_action: str | None = None
    resolved_at: datetime | None = None

    @property
    def id(self) -> str:
        return f"{self.key}@{round(self.opened_at.timestamp() * 1000)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "kind": self.kind,
            "severity": self.severity,
            "title": self.title,
            "detail": self.detail,
            "opened_at": self.opened_at.isoformat(),
            "sku": self.sku,
            "suggested_action": self.suggested_action,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        resolved = data.get("resolved_at")
        return cls(
            key=str(data["key"]),
            kind=data["kind"],
            severity=data["severity"],
            title=str(data["title"]),
            detail=str(data["detail"]),
            opened_at=datetime.fromisoformat(data["opened_at"]),
            sku=data.get("sku"),
            suggested_action=data.get("suggested_action"),
            resolved_at=datetime.fromisoformat(resolved) if resolved else None,
        )


@dataclass(frozen=True)
class AlertInputs:
    """What the alert rules read. Session order/refund counts cover the whole live session."""

    windows: RoomWindows
    session_orders: int
    session_refunds: int
    stock_by_sku: Mapping[str, int] = field(default_factory=dict)
    product_names: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_windows(
        cls,
        windows: RoomWindows,
        stock_by_sku: Mapping[str, int] | None = None,
        product_names: Mapping[str, str] | None = None,
    ) -> AlertInputs:
        """Session counts taken from the windows' own totals."""
        return cls(
            windows=windows,
            session_orders=windows.totals.orders,
            session_refunds=windows.totals.refunds,
            stock_by_sku=stock_by_sku or {},
            product_names=product_names or {},
        )


@dataclass
class AlertState:
    """Alerts currently open in a room, by dedupe key."""

    open: dict[str, Alert] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"open": [a.to_dict() for a in self.open.values()]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertState:
        alerts = [Alert.from_dict(a) for a in data.get("open", ())]
        return cls(open={a.key: a for a in alerts})


@dataclass(frozen=True)
class AlertDecisions:
    opened: list[Alert]
    resolved: list[Alert]
    # Open alerts whose detail changed (库存告急: 仅剩8件 -> 仅剩3件), same id, to re-send.
    updated: list[Alert]
    # Actions the caller must carry out now, e.g. "pause_promotions".
    actions: list[str]


@dataclass(frozen=True)
class _Condition:
    """One evaluated rule: `firing` opens an alert, `holding` (looser) keeps it open."""

    key: str
    kind: AlertKind
    firing: bool
    holding: bool
    severity: Severity
    title: str
    detail: str
    sku: str | None = None
    suggested_action: str | None = None
    action: str | None = None


def _minutes(window_s: int) -> str:
    return f"{window_s // 60}分钟" if window_s % 60 == 0 else f"{window_s}秒"


def _negative_spike(now: datetime, inputs: AlertInputs, rules: AlertRules) -> list[_Condition]:
    rule = rules.negative_spike
    stats = inputs.windows.stats(now, rule.window_s)
    share, index = stats.negative_share, stats.sentiment_index
    enough = stats.scored_comments >= rule.min_comments
    firing = holding = False
    if enough and share is not None and index is not None:
        if rule.negative_share_above is not None:
            firing |= share > rule.negative_share_above
            holding |= share > rule.negative_share_above - rule.clear_margin
        if rule.sentiment_index_below is not None:
            firing |= index < rule.sentiment_index_below
            holding |= index < rule.sentiment_index_below + rule.clear_margin
    detail = f"近{_minutes(rule.window_s)}{stats.scored_comments}条弹幕"
    if share is not None and index is not None:
        detail += f"中负面占{share:.0%}，情绪指数{index:.2f}"
    if stats.top_keywords:
        detail += "；高频词：" + "、".join(word for word, _ in stats.top_keywords[:3])
    detail += "。建议主播正面回应疑问、安抚情绪。"
    return [
        _Condition(
            key="negative_spike",
            kind="negative_spike",
            firing=firing,
            holding=holding,
            severity=rule.severity,
            title="负面情绪激增",
            detail=detail,
        )
    ]


def _complaint_surge(now: datetime, inputs: AlertInputs, rules: AlertRules) -> list[_Condition]:
    rule = rules.complaint_surge
    count = sum(inputs.windows.intent_count(now, i, rule.window_s) for i in rule.intents)
    detail = f"近{_minutes(rule.window_s)}收到{count}条质量/售后相关投诉。"
    suggested = action = None
    if rule.action == "pause_promotions":
        action = ACTION_PAUSE_PROMOTIONS
        detail += "已自动暂停自动发券和红包，请核查商品与售后后手动恢复。"
    elif rule.action == "suggest_pause":
        suggested = ACTION_PAUSE_PROMOTIONS
        detail += "建议暂停自动发券和红包，核查商品与售后问题。"
    else:
        detail += "请核查商品与售后问题。"
    return [
        _Condition(
            key="complaint_surge",
            kind="complaint_surge",
            firing=count >= rule.threshold,
            holding=count >= rule.clear_below_count,
            severity=rule.severity,
            title="客诉集中",
            detail=detail,
            suggested_action=suggested,
            action=action,
        )
    ]


def _traffic_drop(now: datetime, inputs: AlertInputs, rules: AlertRules) -> list[_Condition]:
    rule = rules.traffic_drop
    current = inputs.windows.stats(now, rule.window_s).viewers_avg
    previous = inputs.windows.stats(now - timedelta(seconds=rule.window_s), rule.window_s)
    base = previous.viewers_avg
    firing = holding = False
    detail = "在线人数数据不足。"
    if current is not None and base is not None and base >= rule.min_base_viewers:
        drop = (base - current) / base
        firing = drop >= rule.drop_ratio
        holding = drop >= rule.clear_ratio
        detail = (
            f"近{_minutes(rule.window_s)}平均在线{current:.0f}人，"
            f"上一时段{base:.0f}人，下降{drop:.0%}。建议发福袋/抽奖或切换爆款留人。"
        )
    return [
        _Condition(
            key="traffic_drop",
            kind="traffic_drop",
            firing=firing,
            holding=holding,
            severity=rule.severity,
            title="流量下滑",
            detail=detail,
        )
    ]


def _refund_rate(now: datetime, inputs: AlertInputs, rules: AlertRules) -> list[_Condition]:
    rule = rules.refund_rate
    orders, refunds = inputs.session_orders, inputs.session_refunds
    firing = holding = False
    rate = refunds / orders if orders else 0.0
    if orders >= rule.min_orders:
        firing = rate > rule.rate_above
        holding = rate > rule.rate_above - rule.clear_margin
    return [
        _Condition(
            key="refund_rate",
            kind="refund_rate",
            firing=firing,
            holding=holding,
            severity=rule.severity,
            title="退款率过高",
            detail=(
                f"本场{orders}单中已退款{refunds}单，退款率{rate:.0%}"
                f"（阈值{rule.rate_above:.0%}）。请排查商品质量、描述与发货问题。"
            ),
        )
    ]


def _low_stock(now: datetime, inputs: AlertInputs, rules: AlertRules) -> list[_Condition]:
    rule = rules.low_stock
    conditions = []
    for sku, left in inputs.stock_by_sku.items():
        critical = rule.critical_at is not None and left <= rule.critical_at
        name = inputs.product_names.get(sku, sku)
        label = f"{name}（{sku}）" if name != sku else sku
        if left <= 0:
            detail = f"{label}已售罄，请主播切换讲解商品或确认补货。"
        else:
            detail = f"{label}仅剩{left}件，请主播提醒库存紧张，运营确认是否补货。"
        conditions.append(
            _Condition(
                key=f"low_stock:{sku}",
                kind="low_stock",
                firing=left < rule.below,
                holding=left < rule.clear_at,
                severity="critical" if critical else rule.severity,
                title="商品已售罄" if left <= 0 else "库存告急",
                detail=detail,
                sku=sku,
            )
        )
    return conditions


_EVALUATORS = {
    "negative_spike": _negative_spike,
    "complaint_surge": _complaint_surge,
    "traffic_drop": _traffic_drop,
    "refund_rate": _refund_rate,
    "low_stock": _low_stock,
}


def decide_alerts(
    now: datetime, inputs: AlertInputs, state: AlertState, rules: AlertRules
) -> AlertDecisions:
    """Alerts to open and resolve now, and actions to take; `state` is updated in place.

    An open alert whose severity rises (stock 40 -> 5) or whose situation changes
    (stock 3 -> 0: 库存告急 becomes 商品已售罄) is resolved and reopened, so it is
    announced anew; it is never downgraded while open. One whose figure moves
    (仅剩8件 -> 仅剩3件) is updated in place. An open alert whose rule is disabled, or
    whose SKU left the stock list, resolves.
    """
    conditions: dict[str, _Condition] = {}
    for kind, evaluate in _EVALUATORS.items():
        if getattr(rules, kind).enabled:
            for condition in evaluate(now, inputs, rules):
                conditions[condition.key] = condition

    opened: list[Alert] = []
    resolved: list[Alert] = []
    actions: list[str] = []
    escalated: set[str] = set()
    updated: list[Alert] = []
    for key, alert in list(state.open.items()):
        now_holding = conditions.get(key)
        if now_holding is not None and now_holding.holding:
            rank, was = _SEVERITY_RANK[now_holding.severity], _SEVERITY_RANK[alert.severity]
            # Worse, or another situation at least as grave (库存告急 -> 商品已售罄): announce.
            if rank > was or (rank == was and now_holding.title != alert.title):
                escalated.add(key)
            else:  # still open; its figure (or, on the way back, its wording) moved
                moved = replace(alert, title=now_holding.title, detail=now_holding.detail)
                if moved != alert:
                    state.open[key] = moved
                    updated.append(moved)
                continue
        resolved.append(replace(alert, resolved_at=now))
        del state.open[key]
    for key, condition in conditions.items():
        if key in state.open or not (condition.firing or key in escalated):
            continue
        alert = Alert(
            key=key,
            kind=condition.kind,
            severity=condition.severity,
            title=condition.title,
            detail=condition.detail,
            opened_at=now,
            sku=condition.sku,
            suggested_action=condition.suggested_action,
        )
        state.open[key] = alert
        opened.append(alert)
        if condition.action is not None and condition.action not in actions:
            actions.append(condition.action)
    opened.sort(key=lambda a: -_SEVERITY_RANK[a.severity])
    return AlertDecisions(opened=opened, resolved=resolved, updated=updated, actions=actions)
