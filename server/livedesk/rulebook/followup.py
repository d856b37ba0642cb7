"""rules/followup.yaml: after a session, each customer's suggested next action and message.

Actions are tried top to bottom; the first whose `when` holds for the customer is theirs. A
template may use the placeholders every customer has plus those its `when` guarantees (an
`unused_coupon` action knows the coupon), checked at load like the greeting templates.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from livedesk.rulebook.book import RULE_FILES
from livedesk.rulebook.greetings import template_fields
from livedesk.rulebook.lexicon import Intents

When = Literal["complaint", "unused_coupon", "bought", "asked", "churn_risk", "any"]
Route = Literal["after_sales", "marketing"]

ALWAYS: frozenset[str] = frozenset({"nickname", "tier_label", "room_title"})
# What each condition guarantees a template can say.
GIVEN_BY: dict[str, frozenset[str]] = {
    "complaint": frozenset({"asked"}),
    "unused_coupon": frozenset({"coupon_title", "coupon_expires"}),
    "bought": frozenset({"bought"}),
    "asked": frozenset({"asked"}),
    "churn_risk": frozenset({"churn_reason"}),
    "any": frozenset(),
}
PLACEHOLDERS: frozenset[str] = ALWAYS.union(*GIVEN_BY.values())


def _template(text: str) -> str:
    if not text.strip():
        raise ValueError("empty template")
    template_fields(text, PLACEHOLDERS)
    return text


MessageText = Annotated[str, StringConstraints(max_length=200), AfterValidator(_template)]


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FollowUpAction(_Rules):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    when: When
    route: Route
    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]
    template: MessageText

    @model_validator(mode="after")
    def _fillable(self) -> FollowUpAction:
        allowed = ALWAYS | GIVEN_BY[self.when]
        missing = [
            name for name in template_fields(self.template, PLACEHOLDERS) if name not in allowed
        ]
        if missing:
            raise ValueError(
                f"when: {self.when} does not give {', '.join('{' + m + '}' for m in missing)}; "
                f"it may use {', '.join('{' + p + '}' for p in sorted(allowed))}"
            )
        return self


def _known_intents(intents: list[str]) -> list[str]:
    unknown = [intent for intent in intents if intent not in Intents.model_fields]
    if unknown:
        raise ValueError(
            f"unknown intent {unknown[0]!r}; known: {', '.join(sorted(Intents.model_fields))}"
        )
    return intents


IntentList = Annotated[list[str], AfterValidator(_known_intents)]


class FollowUpRules(_Rules):
    # A comment with one of these intents is a complaint: after-sales, never marketing.
    complaint_intents: IntentList = Field(
        default_factory=lambda: ["after_sales", "quality_complaint"]
    )
    # Questions worth answering in the follow-up ({asked} names them).
    question_intents: IntentList = Field(
        default_factory=lambda: [
            "price_objection",
            "gift_question",
            "efficacy_doubt",
            "size_fit",
            "shipping",
        ]
    )
    actions: list[FollowUpAction] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> FollowUpRules:
        ids = [action.id for action in self.actions]
        if len(ids) != len(set(ids)):
            raise ValueError("action ids must be unique")
        return self


RULE_FILES["followup.yaml"] = FollowUpRules
