"""A weighted distribution of live-commerce danmaku for a beauty/skincare room.

Shaped like a real room: a few cheap texts (666, 已拍, 主播好) repeat endlessly, while questions
and complaints come in many small variations (a prefix, a skin type, a city, an emoji). Within a
category the phrases are Zipf-weighted, so over a few thousand comments 20–60 % are exact
duplicates of an earlier one (MEASURED.md), which is what the analysis caches are sized for.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from livedesk.simulator.phrasebook import CATEGORY_WEIGHTS, SLOTS, SPECS, Category, CategorySpec

ZIPF_EXPONENT = 1.1

# Mashed keys ("66666666", "哈哈哈哈") among the cheers, and the endings of a question that a
# particle suffix must not follow.
_SPAM_TOKENS = ("6", "6", "6", "哈", "哈", "🔥", "❤️", "👍", "1", "冲", "啊")
_SPAM_RUN_SHARE = 0.3
_QUESTION_ENDINGS = ("吗", "呢", "么", "吧")
_PARTICLES = frozenset({"呀", "啊", "呢", "哈哈", "真的", "服了"})


@dataclass(frozen=True, slots=True)
class Danmaku:
    text: str
    category: Category


def _cumulative(weights: Iterable[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _pick(rng: random.Random, items: Sequence[str]) -> str:
    return items[rng.randrange(len(items))]


@dataclass(frozen=True, slots=True)
class _Prepared:
    category: Category
    spec: CategorySpec
    cum_weights: list[float]  # Zipf over the phrases


def _prepare(category: Category, spec: CategorySpec) -> _Prepared:
    zipf = (1.0 / (rank**ZIPF_EXPONENT) for rank in range(1, len(spec.phrases) + 1))
    return _Prepared(category, spec, _cumulative(zipf))


_PREPARED: dict[Category, _Prepared] = {cat: _prepare(cat, spec) for cat, spec in SPECS.items()}


class DanmakuSampler:
    """Draws danmaku with the category mix scaled by `boost` (e.g. more price talk in a flash sale).

    Build once per mix and reuse: the cumulative weights are computed here, not per draw.
    """

    def __init__(self, boost: Mapping[Category, float] | None = None) -> None:
        boost = boost or {}
        self.weights: dict[Category, float] = {
            cat: weight * boost.get(cat, 1.0) for cat, weight in CATEGORY_WEIGHTS.items()
        }
        self._categories = list(self.weights)
        self._cum = _cumulative(self.weights.values())

    def share(self, category: Category) -> float:
        """The expected share of `category` among drawn comments."""
        return self.weights[category] / self._cum[-1]

    def sample(self, rng: random.Random, category: Category | None = None) -> Danmaku:
        if category is None:
            index = bisect.bisect_right(self._cum, rng.random() * self._cum[-1])
            category = self._categories[min(index, len(self._categories) - 1)]
        prepared = _PREPARED[category]
        spec = prepared.spec
        if category is Category.CHEER and rng.random() < _SPAM_RUN_SHARE:
            # Mashed keys: "66666666", "哈哈哈哈"; the length is what varies.
            return Danmaku(_pick(rng, _SPAM_TOKENS) * rng.randint(2, 14), category)
        phrase = rng.choices(spec.phrases, cum_weights=prepared.cum_weights)[0]
        text = _fill_slots(rng, phrase)
        if spec.contexts and rng.random() < spec.context_share:
            text = _fill_slots(rng, _pick(rng, spec.contexts)) + "，" + text
        if rng.random() < spec.vary_share:
            text = _vary(rng, text, spec)
        return Danmaku(text=text, category=category)


def _fill_slots(rng: random.Random, phrase: str) -> str:
    if "{" not in phrase:
        return phrase
    # Each slot drawn independently, so "{product}和{product}" names two products.
    parts = phrase.split("{")
    out = [parts[0]]
    for part in parts[1:]:
        name, _, rest = part.partition("}")
        out.append(_pick(rng, SLOTS[name]) + rest)
    return "".join(out)


def _vary(rng: random.Random, text: str, spec: CategorySpec) -> str:
    if spec.prefixes and rng.random() < 0.5:
        prefix = _pick(rng, spec.prefixes)
        comma = "，" if not prefix.endswith("，") and rng.random() < 0.5 else ""
        text = prefix + comma + text
    if spec.suffixes:
        suffix = _pick(rng, spec.suffixes)
        if suffix in _PARTICLES and text.endswith(_QUESTION_ENDINGS):
            suffix = "？"
        text += suffix
    return text


DEFAULT_SAMPLER = DanmakuSampler()


def sample_danmaku(rng: random.Random) -> Danmaku:
    """One comment and the category it was drawn from, with the baseline mix."""
    return DEFAULT_SAMPLER.sample(rng)


def sample_comment(rng: random.Random) -> str:
    """One comment's text, with the baseline mix."""
    return DEFAULT_SAMPLER.sample(rng).text


def duplicate_share(texts: Iterable[str]) -> float:
    """The share of texts that exactly repeat an earlier one (0.0 for no texts)."""
    seen: set[str] = set()
    total = repeats = 0
    for text in texts:
        total += 1
        if text in seen:
            repeats += 1
        else:
            seen.add(text)
    return repeats / total if total else 0.0
