"""Danmaku understanding, measured on our dev sets, with raw snownlp as the baseline in the
same run: sentiment accuracy, intent precision / recall, and throughput on repeated danmaku.

    .venv/bin/python load_tests/bench_sentiment.py [--comments 20000] [--seed 7]

Every figure is printed for the *tuning* half of each set (used to choose lexicon entries,
patterns, weights) and the *held-aside* half (never looked at while tuning); see
load_tests/devsets.py and docs/sentiment.md. Labels use the documented thresholds
(< 0.4 neg, > 0.6 pos, else neu), for raw snownlp too. Throughput: raw
`SnowNLP(text).sentiments` one by one against the engine fed in batches of 200 (as the
pipeline does) from a cold cache.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from pathlib import Path

from snownlp import SnowNLP

import devsets
from livedesk.analysis.intents import INTENT_IDS, IntentMatcher
from livedesk.analysis.normalize import normalize_text
from livedesk.analysis.sentiment import SentimentEngine, is_trivial, label_of
from livedesk.rulebook.lexicon import LexiconRules
from livedesk.rulebook.loader import load_document

REPO = Path(__file__).resolve().parents[1]
BATCH = 200
SPLITS: tuple[devsets.Split, ...] = ("tune", "held")
# How viewers vary a line: trailing marks, laughter, emoji, elongation.
SUFFIXES = ["", "！", "!!!", "～", "哈哈哈", "👍", "？？", " ", "。"]


def raw_snownlp(texts: list[str]) -> list[float]:
    return [SnowNLP(text).sentiments if text.strip() else 0.5 for text in texts]


def sentiment_figures(rows: list[devsets.Row], scores: list[float]) -> dict[str, float]:
    """Accuracy, negative recall, and the share of 'neg' verdicts that are wrong."""
    predicted = [label_of(score) for score in scores]
    gold = [row.label for row in rows]
    said_neg = [g for p, g in zip(predicted, gold, strict=True) if p == "neg"]
    negatives = [p for p, g in zip(predicted, gold, strict=True) if g == "neg"]
    return {
        "accuracy": sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(rows),
        "neg_recall": sum(p == "neg" for p in negatives) / max(1, len(negatives)),
        "false_neg_share": sum(g != "neg" for g in said_neg) / max(1, len(said_neg)),
        "said_neg": len(said_neg),
    }


def report_sentiment(engine: SentimentEngine) -> None:
    print("== sentiment (label: < 0.4 neg, > 0.6 pos, else neu)")
    for name, what in (
        ("reviews", "product reviews (pos/neg)"),
        ("danmaku_sentiment", "commerce danmaku (pos/neu/neg)"),
        ("fanchat", "fan chatter (pos/neu/neg)"),
    ):
        for split in SPLITS:
            rows = devsets.load(name, split)
            texts = [row.text for row in rows]
            for who, scores in (
                ("raw snownlp", raw_snownlp(texts)),
                ("livedesk   ", engine.score_sync(texts)),
            ):
                f = sentiment_figures(rows, scores)
                print(
                    f"{what:31} {split:4} {len(rows):4} lines  {who}  accuracy"
                    f" {f['accuracy']:6.1%}  neg recall {f['neg_recall']:6.1%}  wrong among"
                    f" 'neg' {f['false_neg_share']:6.1%} (of {f['said_neg']:.0f})"
                )


def report_intents(matcher: IntentMatcher) -> None:
    print("== intents (micro over", len(INTENT_IDS), "intents; fan chat should get none)")
    for split in SPLITS:
        rows = devsets.load("intents", split)
        per: dict[str, Counter[str]] = {intent: Counter() for intent in INTENT_IDS}
        for row in rows:
            gold = set(row.labels) - {"none"}
            found = set(matcher.match(row.text).intents)
            for intent in gold | found:
                outcome = "tp" if intent in gold & found else "fp" if intent in found else "fn"
                per[intent][outcome] += 1
        total = sum((counts for counts in per.values()), Counter())
        precision = total["tp"] / max(1, total["tp"] + total["fp"])
        recall = total["tp"] / max(1, total["tp"] + total["fn"])
        fan = devsets.load("fanchat", split)
        tagged = sum(bool(matcher.match(row.text).intents) for row in fan)
        print(
            f"{split:4} {len(rows):4} comments: micro precision {precision:6.1%}  recall"
            f" {recall:6.1%};  fan chat tagged {tagged} of {len(fan)} ({tagged / len(fan):.2%})"
        )
        print(
            "      "
            + "  ".join(
                f"{intent} {c['tp'] / max(1, c['tp'] + c['fp']):.2f}/"
                f"{c['tp'] / max(1, c['tp'] + c['fn']):.2f}"
                for intent, c in per.items()
            )
            + "  (precision/recall)"
        )


def make_stream(texts: list[str], count: int, seed: int) -> list[str]:
    """Zipf-like draws (s = 1.1) over dev-set lines and their variants, the trivial ones
    (666, 已拍, emoji) ranked first as in real rooms, with 35 % of the comments made unique
    (a mention appended) and 15 % given a random trailing variant."""
    rng = random.Random(seed)
    vocabulary = [text + suffix for text in texts for suffix in SUFFIXES[:4]]
    rng.shuffle(vocabulary)
    vocabulary.sort(key=lambda text: not is_trivial(normalize_text(text)))  # stable
    weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(vocabulary))]
    stream = rng.choices(vocabulary, weights=weights, k=count)
    for i in range(count):
        roll = rng.random()
        if roll < 0.35:
            stream[i] = f"{stream[i]} @用户{rng.randrange(100_000)}"
        elif roll < 0.50:
            stream[i] += rng.choice(SUFFIXES)
    return stream


def report_throughput(count: int, seed: int, rounds: int = 5) -> None:
    """Raw snownlp and the engine take turns on the same slices of the stream, so both see the
    same machine load (this machine is shared: a minute apart the load can differ 3×). The
    engine keeps its cache from slice to slice, as in a room; it starts cold."""
    texts = [row.text for name in ("danmaku_sentiment", "fanchat") for row in devsets.load(name)]
    stream = make_stream(texts, count, seed)
    distinct = len(set(stream))
    print(
        f"== throughput: {len(stream)} comments, {1 - distinct / len(stream):.0%} exact repeats,"
        f" {1 - len({normalize_text(t) for t in stream}) / len(stream):.0%} after normalising;"
        f" {rounds} alternating rounds"
    )
    engine, uncached = SentimentEngine(), SentimentEngine(cache_size=0)
    engine.score_sync([])  # load the lexicon and the model: not part of the rate
    elapsed = {"raw": 0.0, "engine": 0.0, "uncached": 0.0}
    size = -(-len(stream) // rounds)
    for start in range(0, len(stream), size):
        part = stream[start : start + size]
        for who, run in (
            ("raw", raw_snownlp),
            ("engine", engine.score_sync),
            ("uncached", uncached.score_sync),
        ):
            started = time.perf_counter()
            for i in range(0, len(part), BATCH):
                run(part[i : i + BATCH])
            elapsed[who] += time.perf_counter() - started
    raw_rate = len(stream) / elapsed["raw"]
    rate = len(stream) / elapsed["engine"]
    bare = len(stream) / elapsed["uncached"]
    hits, trivial, scored = (
        n / engine.stats.texts
        for n in (engine.stats.cache_hits, engine.stats.fast_path, engine.stats.model_texts)
    )
    print(f"raw snownlp, one by one:           {raw_rate:9,.0f} comments/s")
    print(
        f"livedesk engine, batches of {BATCH}:   {rate:9,.0f} comments/s  ({rate / raw_rate:.1f}×"
        f" raw; cache hits {hits:.0%}, trivial {trivial:.0%}, lexicon + model {scored:.0%})"
    )
    print(
        f"livedesk engine, no cache:         {bare:9,.0f} comments/s  ({bare / raw_rate:.1f}× raw)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--comments", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    rules = load_document(REPO / "rules" / "lexicon.yaml", LexiconRules).model
    assert isinstance(rules, LexiconRules)
    report_intents(IntentMatcher(rules))
    report_sentiment(SentimentEngine(cache_size=0))
    if not args.skip_throughput:
        report_throughput(args.comments, args.seed)


if __name__ == "__main__":
    main()
