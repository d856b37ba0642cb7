"""Do-not-greet for the rest of a session: a viewer who complains or asks for a refund in the
danmaku ("我要投诉，退款") is not named on stream again this session, whatever their record says,
and ops are told who and why. Pure: the caller keeps the state with the room."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from livedesk.cues.greetings import one_line
from livedesk.customers.do_not_greet import LABELS, DoNotGreet, strongest
from livedesk.rulebook.greetings import GreetingRules

_QUOTE_CHARS = 30


@dataclass
class QuietList:
    """Customer id → why they must not be named for the rest of this session."""

    reasons: dict[int, DoNotGreet] = field(default_factory=dict)

    def reason_for(self, customer_id: int, stored: str | None) -> DoNotGreet | None:
        """The reason to keep the customer off the stream: their record's or this session's."""
        return strongest(stored, self.reasons.get(customer_id))

    def on_comment(
        self,
        customer_id: int,
        nickname: str | None,
        content: str,
        intents: Sequence[str],
        rules: GreetingRules,
        intent_labels: Mapping[str, str],
    ) -> dict[str, Any] | None:
        """A comment's intents may quiet its writer for the session; the ops alert when they
        do (once per customer and session), else None."""
        matched = [intent for intent in intents if intent in rules.do_not_greet_intents]
        reason = strongest(*(rules.do_not_greet_intents[intent] for intent in matched))
        if reason is None or customer_id in self.reasons:
            return None
        self.reasons[customer_id] = reason
        name = one_line(nickname or "", rules.max_nickname_chars) or rules.fallback_nickname
        said = one_line(content, _QUOTE_CHARS)
        why = "、".join(intent_labels.get(intent, intent) for intent in matched)
        return {
            "id": f"quiet-{customer_id}",
            "kind": "do_not_greet",
            "severity": "warning",
            "title": f"{name}本场勿点名：{LABELS[reason]}",
            "detail": f"弹幕「{said}」（{why}）",
            "customer_id": customer_id,
            "reason": reason.value,
            "state": "open",
        }

    def to_dict(self) -> dict[str, str]:
        return {str(customer_id): reason.value for customer_id, reason in self.reasons.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> QuietList:
        return cls({int(customer_id): DoNotGreet(reason) for customer_id, reason in data.items()})
