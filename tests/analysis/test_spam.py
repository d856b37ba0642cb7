"""Spam and flood detection: floods of 666, repeats, bursts, copy-paste storms, ads."""

from __future__ import annotations

from livedesk.analysis.intents import IntentMatcher
from livedesk.analysis.normalize import normalize_text
from livedesk.analysis.spam import SpamFilter
from livedesk.rulebook.lexicon import LexiconRules, SpamRules

RULES = SpamRules(
    repeat_window_s=30,
    burst_window_s=10,
    burst_max_comments=5,
    storm_window_s=10,
    storm_min_users=4,
    storm_exempt=["已拍"],
    patterns=["(?:加|\\+)\\s*(?:v|微|vx)", "https?://"],
)


def observe(spam: SpamFilter, user: str, text: str, at_s: float) -> bool:
    return spam.observe(user, normalize_text(text), at_s)


def test_one_user_repeating_666_is_a_flood() -> None:
    spam = SpamFilter(RULES)
    flags = [observe(spam, "u1", "6" * (3 + i), float(i)) for i in range(4)]
    # 666, 6666, 66666 … are one normalised text: the first counts, the repeats do not.
    assert flags == [False, True, True, True]


def test_repeat_window_expires() -> None:
    spam = SpamFilter(RULES)
    assert not observe(spam, "u1", "什么时候发货", 0.0)
    assert observe(spam, "u1", "什么时候发货", 29.0)
    assert not observe(spam, "u1", "什么时候发货", 60.0)
    assert not observe(spam, "u2", "什么时候发货", 60.5)  # another user asking is not a repeat


def test_burst_of_different_texts_from_one_user() -> None:
    spam = SpamFilter(RULES)
    flags = [observe(spam, "u1", f"第{i}句话", i * 0.5) for i in range(7)]
    assert flags == [False] * 5 + [True, True]
    assert not observe(spam, "u1", "过了一会儿再说", 20.0)


def test_copy_paste_storm_from_many_users() -> None:
    spam = SpamFilter(RULES)
    text = "主播看我看我看我，抽我抽我"
    flags = [observe(spam, f"u{i}", text, 1.0 + i * 0.1) for i in range(6)]
    # storm_min_users = 4: the first three still count, from the fourth on it is a storm.
    assert flags == [False, False, False, True, True, True]
    # Outside the window the text is fresh again.
    assert not observe(spam, "u99", text, 30.0)


def test_many_users_saying_yi_pai_is_not_a_storm() -> None:
    spam = SpamFilter(RULES)
    assert not any(observe(spam, f"u{i}", "已拍", 1.0 + i * 0.05) for i in range(50))
    assert observe(spam, "u1", "已拍", 5.0)  # but one user repeating it still is


def test_spam_patterns() -> None:
    spam = SpamFilter(RULES)
    assert observe(spam, "ad", "便宜货加V：abc123", 0.0)
    assert observe(spam, "ad2", "看这里 http://x.example", 0.0)
    assert not observe(spam, "u1", "这个多少钱", 0.0)


def test_memory_is_bounded() -> None:
    rules = RULES.model_copy(update={"max_tracked_users": 100, "max_tracked_texts": 50})
    spam = SpamFilter(rules)
    for i in range(5_000):
        observe(spam, f"u{i}", f"评论{i}", i * 0.01)
    assert len(spam._users) == 100
    assert len(spam._texts) == 50


def test_a_flood_counts_once_toward_intents(
    lexicon_rules: LexiconRules, matcher: IntentMatcher
) -> None:
    """How the pipeline is meant to combine them: flagged comments do not feed intent counts."""
    spam = SpamFilter(lexicon_rules.spam)
    counts: dict[str, int] = {}
    stream = [("u1", "太贵了")] * 10 + [(f"u{i}", "太贵了") for i in range(2, 4)]
    for i, (user, text) in enumerate(stream):
        normalized = normalize_text(text)
        if spam.observe(user, normalized, i * 0.2):
            continue
        for intent in matcher.match_normalized(normalized).intents:
            counts[intent] = counts.get(intent, 0) + 1
    assert counts == {"price_objection": 3}  # u1 once, u2, u3
