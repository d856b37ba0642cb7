"""What a comment asks or signals: intents, interest SKUs and content keywords, from lexicon.yaml.

All keywords of all intents and interests are compiled into one regex, the patterns into a
second and the exclude phrases into a third; a comment is scanned once by each. jieba splits
the comment into words only for the top-keywords list.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import jieba

from livedesk.analysis.normalize import normalize_text
from livedesk.analysis.sentiment import is_trivial
from livedesk.rulebook.lexicon import IntentRule, LexiconRules

INTENT_IDS: tuple[str, ...] = (
    "price_objection",
    "gift_question",
    "efficacy_doubt",
    "size_fit",
    "shipping",
    "after_sales",
    "quality_complaint",
    "want",
    "purchase_signal",
)
_CONTENT = re.compile(r"[^\W\d_]")  # at least one letter or han character
_QUESTION_END = re.compile(r"[吗么呢嘛?]$")
_jieba_lock = threading.Lock()
RECENT_TEXTS = 20_000  # signals remembered per matcher (a few MB at most)


@dataclass(frozen=True)
class CommentSignals:
    intents: tuple[str, ...]  # intent ids, in INTENT_IDS order
    interest_skus: tuple[str, ...]
    keywords: tuple[str, ...]  # content words, stop words removed, for top-keywords
    is_trivial: bool  # emoji / 666 / 哈哈 / 已拍 … nothing to analyse
    interests: tuple[str, ...] = ()  # interest names (美白, 抗老 …)


@dataclass(frozen=True)
class _Target:
    """What a keyword, pattern or exclude phrase stands for: an intent or an interest."""

    kind: str  # "intent" | "interest"
    name: str


@cache
def _tokenizer() -> jieba.Tokenizer:
    """One jieba tokenizer per process (its dictionary ships inside the jieba package)."""
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def warm_up() -> None:
    """Load jieba's dictionary now (≈ 1 s of CPU) rather than inside the first batch."""
    _tokenizer()


def _alternation(phrases: Iterable[str]) -> str:
    return "|".join(re.escape(phrase) for phrase in sorted(set(phrases), key=len, reverse=True))


class IntentMatcher:
    """Built once from the lexicon rules; `match` is pure and cheap (tens of µs per comment)."""

    def __init__(self, rules: LexiconRules):
        intents: dict[str, IntentRule] = {name: getattr(rules.intents, name) for name in INTENT_IDS}
        self.labels: dict[str, str] = {name: rule.label for name, rule in intents.items()}
        self.interest_skus: dict[str, tuple[str, ...]] = {
            name: tuple(rule.skus) for name, rule in rules.interests.items()
        }
        self._stop_words = frozenset(normalize_text(word) for word in rules.stop_words)

        keyword_targets: dict[str, set[_Target]] = {}
        for name, intent in intents.items():
            for keyword in intent.keywords:
                keyword_targets.setdefault(normalize_text(keyword), set()).add(
                    _Target("intent", name)
                )
        for name, interest in rules.interests.items():
            for keyword in interest.keywords:
                keyword_targets.setdefault(normalize_text(keyword), set()).add(
                    _Target("interest", name)
                )
        # The regex reports the longest keyword at each position; a keyword also carries the
        # targets of every shorter keyword it starts with (发货太慢 implies 发货), each with its
        # own length so exclusion is checked on the right span.
        self._keywords: dict[str, tuple[tuple[_Target, int], ...]] = {
            keyword: tuple(
                (target, len(prefix))
                for prefix, targets in keyword_targets.items()
                if keyword.startswith(prefix)
                for target in targets
            )
            for keyword in keyword_targets
        }
        self._keyword_re = re.compile(f"(?=({_alternation(keyword_targets)}))")

        self._pattern_targets: dict[str, str] = {}
        groups: list[str] = []
        for name, intent in intents.items():
            for pattern in intent.patterns:
                group = f"p{len(groups)}"
                self._pattern_targets[group] = name
                groups.append(f"(?P<{group}>{pattern})")
        self._pattern_re = re.compile(f"(?=(?:{'|'.join(groups)}))") if groups else None

        self._exclude_owner: dict[str, set[str]] = {}
        for name, intent in intents.items():
            for phrase in intent.exclude:
                self._exclude_owner.setdefault(normalize_text(phrase), set()).add(name)
        self._exclude_re = (
            re.compile(f"(?=({_alternation(self._exclude_owner)}))")
            if self._exclude_owner
            else None
        )

        tokenizer = _tokenizer()
        with _jieba_lock:
            # Keep short domain terms whole when splitting (智商税, 法令纹) so they rank as
            # keywords; longer phrases and questions (效果怎么样, 包邮吗) are left to jieba.
            for keyword in keyword_targets:
                short = 1 < len(keyword) <= 3 and not _QUESTION_END.search(keyword)
                if short and keyword not in tokenizer.FREQ:
                    tokenizer.add_word(keyword)
        self._tokenizer = tokenizer
        self._recent: dict[str, CommentSignals] = {}

    def match(self, text: str) -> CommentSignals:
        return self.match_normalized(normalize_text(text))

    def match_normalized(self, normalized: str) -> CommentSignals:
        """Signals of a comment already passed through `normalize_text`. Danmaku repeat
        heavily (666, 已拍, the same question from many viewers), so the signals of recent
        texts are remembered: the scan and jieba cost tens of µs a comment."""
        signals = self._recent.get(normalized)
        if signals is None:
            signals = self._match(normalized)
            if len(self._recent) >= RECENT_TEXTS:
                del self._recent[next(iter(self._recent))]  # the oldest first
            self._recent[normalized] = signals
        return signals

    def _match(self, normalized: str) -> CommentSignals:
        if not normalized:
            return CommentSignals((), (), (), True)
        excluded = self._excluded_spans(normalized)
        intents: set[str] = set()
        interests: set[str] = set()
        for found in self._keyword_re.finditer(normalized):
            start = found.start()
            for target, length in self._keywords[found.group(1)]:
                if target.kind == "intent":
                    if not _inside(excluded.get(target.name), start, start + length):
                        intents.add(target.name)
                else:
                    interests.add(target.name)
        if self._pattern_re is not None:
            for found in self._pattern_re.finditer(normalized):
                group = found.lastgroup
                if group is None:
                    continue
                name = self._pattern_targets[group]
                start, end = found.span(group)
                if not _inside(excluded.get(name), start, end):
                    intents.add(name)
        trivial = is_trivial(normalized)
        ordered_interests = tuple(name for name in self.interest_skus if name in interests)
        skus = dict.fromkeys(sku for name in ordered_interests for sku in self.interest_skus[name])
        return CommentSignals(
            intents=tuple(name for name in INTENT_IDS if name in intents),
            interest_skus=tuple(skus),
            keywords=() if trivial else self.keywords(normalized),
            is_trivial=trivial,
            interests=ordered_interests,
        )

    def keywords(self, normalized: str) -> tuple[str, ...]:
        """Content words of a normalised comment: jieba words (without HMM guessing, which
        glues particles on) of 2+ characters with a letter or han character, stop words
        removed, each once."""
        words = (
            # jieba's dictionary has question words like 有用吗: keep 有用.
            word[:-1] if len(word) > 2 and _QUESTION_END.search(word) else word
            for word in self._tokenizer.lcut(normalized, HMM=False)
        )
        return tuple(
            dict.fromkeys(
                word
                for word in words
                if len(word) > 1 and word not in self._stop_words and _CONTENT.search(word)
            )
        )

    def _excluded_spans(self, normalized: str) -> dict[str, list[tuple[int, int]]]:
        spans: dict[str, list[tuple[int, int]]] = {}
        if self._exclude_re is None:
            return spans
        for found in self._exclude_re.finditer(normalized):
            phrase = found.group(1)
            for name in self._exclude_owner[phrase]:
                spans.setdefault(name, []).append((found.start(), found.start() + len(phrase)))
        return spans


def _inside(spans: list[tuple[int, int]] | None, start: int, end: int) -> bool:
    return spans is not None and any(s <= start and end <= e for s, e in spans)
