"""Schema of rules/lexicon.yaml: danmaku intents, interest terms → SKUs, stop words, spam rules.

Keywords are plain phrases matched as substrings of the normalised comment (NFKC, casefolded);
patterns are Python regular expressions for what a phrase list cannot say (160穿什么码).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from livedesk.rulebook.book import RULE_FILES

# Our matcher joins every pattern into one regex, so a pattern may not carry its own named
# groups or back-references (they would clash or point at another pattern's group).
_GROUP_REFERENCE = re.compile(r"\(\?P[<=]|\\[1-9]|\\g<")


def _check_pattern(pattern: str) -> str:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    if _GROUP_REFERENCE.search(pattern):
        raise ValueError(
            f"{pattern!r}: named groups and back-references are not allowed; use (?:…)"
        )
    if compiled.match(""):
        raise ValueError(f"{pattern!r} matches the empty text, so it would match every comment")
    return pattern


Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Pattern = Annotated[
    str, StringConstraints(min_length=1, max_length=300), AfterValidator(_check_pattern)
]
Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]


class IntentRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Label  # shown on the panels, in Chinese (价格异议)
    keywords: list[Keyword] = Field(min_length=1)
    patterns: list[Pattern] = Field(default_factory=list)
    # Phrases that contain a keyword but mean something else (不太贵 contains 太贵): a keyword
    # found inside one of these does not count.
    exclude: list[Keyword] = Field(default_factory=list)


class Intents(BaseModel):
    """The intent ids are fixed: cues and panels react to them by name."""

    model_config = ConfigDict(extra="forbid")

    price_objection: IntentRule
    gift_question: IntentRule
    efficacy_doubt: IntentRule
    size_fit: IntentRule
    shipping: IntentRule
    after_sales: IntentRule
    quality_complaint: IntentRule
    want: IntentRule  # wants to buy: link requests (上链接, 三号链接), 扣1, 想要, 怎么买
    purchase_signal: IntentRule  # has bought: 已拍, 付款了


class InterestRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keywords: list[Keyword] = Field(min_length=1)
    skus: list[Sku] = Field(min_length=1)


class SpamRules(BaseModel):
    """When a comment is spam or flood: it counts for activity, never toward intents."""

    model_config = ConfigDict(extra="forbid")

    # The same user sending the same text again within this window.
    repeat_window_s: float = Field(default=30.0, gt=0)
    # One user sending more than burst_max_comments within burst_window_s.
    burst_window_s: float = Field(default=10.0, gt=0)
    burst_max_comments: int = Field(default=6, ge=1)
    # The same text from at least storm_min_users different users within storm_window_s is a
    # copy-paste storm: from that comment on, repeats are flood (the first ones still count).
    storm_window_s: float = Field(default=10.0, gt=0)
    storm_min_users: int = Field(default=8, ge=2)
    # Texts that many people legitimately type at once (已拍 after "拍了的扣已拍").
    storm_exempt: list[Keyword] = Field(default_factory=list)
    # Always spam: ads, contact details, links.
    patterns: list[Pattern] = Field(default_factory=list)
    # Memory bounds per room.
    max_tracked_users: int = Field(default=20_000, ge=1)
    max_tracked_texts: int = Field(default=5_000, ge=1)


class LexiconRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intents: Intents
    interests: dict[Label, InterestRule] = Field(default_factory=dict)
    stop_words: list[Keyword] = Field(default_factory=list)
    spam: SpamRules = Field(default_factory=SpamRules)

    def intent_labels(self) -> dict[str, str]:
        """Intent id → the Chinese label panels show (价格异议 …)."""
        return {name: rule.label for name, rule in self.intents}


RULE_FILES["lexicon.yaml"] = LexiconRules
