"""Teleprompter hints: when enough viewers ask the same thing, tell the host what to say.

`decide_hints` is a pure decision (no I/O) over the room's rolling windows and the rules in
rules/hints.yaml; it updates the `HintState` it is given in place and returns the new hints,
which the caller persists and pushes. Templates only ever see livedesk's own values (product,
stock, counts), never viewer text, and were checked at load time to hold plain placeholders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from livedesk.analysis.buckets import MAX_WINDOW_S
from livedesk.analysis.windows import RoomWindows
from livedesk.rulebook.cues import HintRules, IntentHintRule, template_fields


@dataclass(frozen=True)
class Hint:
    id: str
    intent: str
    text: str
    # 1 is the most urgent.
    priority: int
    created_at: datetime
    expires_at: datetime
    # How many matching comments were in the window when it fired (0 for manual hints).
    count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "intent": self.intent,
            "text": self.text,
            "priority": self.priority,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hint:
        return cls(
            id=str(data["id"]),
            intent=str(data["intent"]),
            text=str(data["text"]),
            priority=int(data["priority"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            count=int(data.get("count", 0)),
        )


@dataclass(frozen=True)
class HintContext:
    """What livedesk knows about the show right now (all of it our own data)."""

    product_sku: str | None = None
    product_name: str | None = None
    stock_by_sku: Mapping[str, int] = field(default_factory=dict)
    # SKUs ordered by viewer interest, most asked first (see rank_talking_points).
    interest_ranking: Sequence[str] = ()
    product_names: Mapping[str, str] = field(default_factory=dict)

    def values(self, count: int) -> dict[str, str]:
        """Placeholder values that are known; a template needing a missing one is skipped."""
        values = {"count": str(count)}
        if self.product_sku is not None:
            values["sku"] = self.product_sku
            stock_left = self.stock_by_sku.get(self.product_sku)
            if stock_left is not None:
                values["stock_left"] = str(stock_left)
        if self.product_name is not None:
            values["product_name"] = self.product_name
        if self.interest_ranking:
            top = self.product_names.get(self.interest_ranking[0])
            if top is not None:
                values["top_product_name"] = top
        return values


@dataclass
class HintState:
    """Per-room memory of hints: when each intent last fired and what is on screen."""

    last_fired: dict[str, datetime] = field(default_factory=dict)
    fired_count: dict[str, int] = field(default_factory=dict)
    on_screen: list[Hint] = field(default_factory=list)

    def prune(self, now: datetime) -> None:
        self.on_screen = [h for h in self.on_screen if h.expires_at > now]

    def show(self, hint: Hint) -> None:
        """Put a hint on screen (decide_hints does it; also for manual hints from ops)."""
        self.on_screen.append(hint)

    def dismiss(self, hint_id: str) -> bool:
        """The host swiped a hint away; its intent's cooldown still runs."""
        before = len(self.on_screen)
        self.on_screen = [h for h in self.on_screen if h.id != hint_id]
        return len(self.on_screen) != before

    def to_dict(self) -> dict[str, Any]:
        return {
            "last_fired": {k: v.isoformat() for k, v in self.last_fired.items()},
            "fired_count": dict(self.fired_count),
            "on_screen": [h.to_dict() for h in self.on_screen],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HintState:
        return cls(
            last_fired={
                str(k): datetime.fromisoformat(v) for k, v in data.get("last_fired", {}).items()
            },
            fired_count={str(k): int(v) for k, v in data.get("fired_count", {}).items()},
            on_screen=[Hint.from_dict(h) for h in data.get("on_screen", ())],
        )


@lru_cache(maxsize=1024)
def _fields(template: str) -> frozenset[str]:
    return frozenset(template_fields(template))


def _render(rule: IntentHintRule, values: Mapping[str, str], rotation: int) -> str | None:
    """The first template, in rotation from `rotation`, whose placeholders are all known."""
    templates = rule.templates
    for offset in range(len(templates)):
        template = templates[(rotation + offset) % len(templates)]
        if _fields(template) <= values.keys():
            # Safe: the rulebook admits only plain {name} placeholders from a fixed set.
            return template.format_map(values)
    return None


def decide_hints(
    now: datetime,
    windows: RoomWindows,
    context: HintContext,
    state: HintState,
    rules: HintRules,
) -> list[Hint]:
    """New hints to show now, most urgent first; `state` is updated in place.

    An intent fires when its count in the rule's window reaches the threshold, it is out of
    cooldown, none of its hints is still on screen, and fewer than `max_on_screen` hints are
    showing. Nothing on screen is evicted: when the screen is full, the candidate waits.
    """
    state.prune(now)
    candidates: list[tuple[int, float, str, IntentHintRule, int]] = []
    on_screen_intents = {h.intent for h in state.on_screen}
    for intent, rule in rules.intents.items():
        if not rule.enabled or intent in on_screen_intents:
            continue
        last = state.last_fired.get(intent)
        if last is not None and now - last < timedelta(seconds=rule.cooldown_s):
            continue
        count = windows.intent_count(now, intent, rule.window_s)
        if count >= rule.threshold:
            # Most urgent first, then the intent furthest over its threshold.
            candidates.append((rule.priority, -count / rule.threshold, intent, rule, count))
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))

    fired: list[Hint] = []
    for priority, _overshoot, intent, rule, count in candidates:
        if len(state.on_screen) >= rules.max_on_screen:
            break
        text = _render(rule, context.values(count), state.fired_count.get(intent, 0))
        if text is None:
            continue
        hint = Hint(
            id=f"hint:{intent}:{round(now.timestamp() * 1000)}",
            intent=intent,
            text=text,
            priority=priority,
            created_at=now,
            expires_at=now + timedelta(seconds=rule.expire_s),
            count=count,
        )
        state.show(hint)
        state.last_fired[intent] = now
        state.fired_count[intent] = state.fired_count.get(intent, 0) + 1
        fired.append(hint)
    return fired


def rank_talking_points(
    now: datetime,
    windows: RoomWindows,
    skus: Sequence[str],
    within_s: int = MAX_WINDOW_S,
) -> list[str]:
    """The run-of-show SKUs re-ranked by viewer interest over the last 15 minutes.

    More mentions first; ties (including never mentioned) keep their run-of-show order.
    """
    interest = windows.interest_counts(now, within_s)
    # sorted() is stable, so equal interest keeps the run-of-show order.
    return sorted(dict.fromkeys(skus), key=lambda sku: -interest.get(sku, 0))
