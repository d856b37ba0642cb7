"""Sentiment: accuracy of raw snownlp vs livedesk's engine on the dev set, and throughput on a
realistic repeating danmaku stream, both measured in this one run.

    .venv/bin/python load_tests/bench_sentiment.py [--comments 20000] [--seed 7]

Accuracy uses the documented thresholds (< 0.4 neg, > 0.6 pos, else neu) on both halves of
load_tests/sentiment_devset.tsv: "dev" (used to choose the engine's constants) and "test"
(held out, never tuned on). Throughput is raw `SnowNLP(text).sentiments` one by one against the
engine fed in batches of 200 (as the pipeline does), from a cold cache: in this thread
(`score_sync`) and through a 1-process pool (`score_many`, the event loop stays free).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import time
from collections import Counter
from pathlib import Path

from snownlp import SnowNLP

from livedesk.analysis.normalize import normalize_text
from livedesk.analysis.sentiment import SentimentEngine, default_lexicon, is_trivial, label_of

DEVSET = Path(__file__).with_name("sentiment_devset.tsv")
BATCH = 200
# How viewers vary a line: trailing marks, laughter, emoji, elongation, full-width digits.
SUFFIXES = ["", "！", "!!!", "～", "哈哈哈", "👍", "？？", " ", "。"]


def split_of(text: str) -> str:
    """Fixed dev/test split by hash (same rule as tests/analysis/conftest.py)."""
    return "test" if hashlib.md5(text.encode("utf-8")).digest()[0] % 2 else "dev"


def load_devset() -> list[tuple[str, str]]:
    rows = []
    for line in DEVSET.read_text(encoding="utf-8").splitlines():
        label, text = line.split("\t", 1)
        rows.append((label, text))
    return rows


def accuracy(rows: list[tuple[str, str]], scores: list[float]) -> float:
    return sum(label_of(s) == label for s, (label, _) in zip(scores, rows, strict=True)) / len(rows)


def make_stream(texts: list[str], count: int, seed: int) -> list[str]:
    """Zipf-like draws (s = 1.1) over the dev-set lines and their variants, the trivial ones
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


async def pool_throughput(stream: list[str]) -> tuple[float, float, SentimentEngine]:
    engine = SentimentEngine(processes=1)
    started = time.perf_counter()
    await engine.start()
    start_s = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(0, len(stream), BATCH):
        await engine.score_many(stream[i : i + BATCH])
    elapsed_s = time.perf_counter() - started
    await engine.close()
    return start_s, elapsed_s, engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--comments", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rows = load_devset()
    labels = Counter(label for label, _ in rows)
    print(f"dev set: {len(rows)} lines ({dict(labels)}); thresholds < 0.4 neg, > 0.6 pos")
    engine = SentimentEngine(processes=0, cache_size=0)
    for split in ("dev", "test"):
        part = [row for row in rows if split_of(row[1]) == split]
        raw = [SnowNLP(text).sentiments for _, text in part]
        ours = engine.score_sync([text for _, text in part])
        note = "tuned on" if split == "dev" else "held out"
        print(
            f"accuracy {split:4} ({note}, {len(part)} lines): raw snownlp {accuracy(part, raw):.1%}"
            f"  livedesk {accuracy(part, ours):.1%}"
        )
    # Many danmaku are one word that is also a lexicon term (智商税, 质量差): easy for us by
    # construction. The held-out figure without those lines is the fairer one.
    terms = default_lexicon().weights
    part = [
        row for row in rows if split_of(row[1]) == "test" and normalize_text(row[1]) not in terms
    ]
    raw = [SnowNLP(text).sentiments for _, text in part]
    ours = engine.score_sync([text for _, text in part])
    print(
        f"accuracy test without bare lexicon terms ({len(part)} lines): raw snownlp"
        f" {accuracy(part, raw):.1%}  livedesk {accuracy(part, ours):.1%}"
    )

    stream = make_stream([text for _, text in rows], args.comments, args.seed)
    distinct = len(set(stream))
    distinct_normalized = len({normalize_text(text) for text in stream})
    print(
        f"stream: {len(stream)} comments, {1 - distinct / len(stream):.0%} exact repeats,"
        f" {1 - distinct_normalized / len(stream):.0%} repeats after normalisation"
    )

    started = time.perf_counter()
    for text in stream:
        _ = SnowNLP(text).sentiments
    raw_s = time.perf_counter() - started
    raw_rate = len(stream) / raw_s
    print(f"raw snownlp, one by one:          {raw_rate:8,.0f} comments/s")

    sync_engine = SentimentEngine(processes=0)
    started = time.perf_counter()
    for i in range(0, len(stream), BATCH):
        sync_engine.score_sync(stream[i : i + BATCH])
    sync_s = time.perf_counter() - started
    sync_rate = len(stream) / sync_s
    stats = sync_engine.stats
    hits, fast, model = (
        n / stats.texts for n in (stats.cache_hits, stats.fast_path, stats.model_texts)
    )
    print(
        f"livedesk engine, in this thread:  {sync_rate:8,.0f} comments/s"
        f"  ({sync_rate / raw_rate:.1f}× raw; cache hits {hits:.0%}, fast path {fast:.0%},"
        f" to snownlp {model:.0%})"
    )

    start_s, pool_s, _ = asyncio.run(pool_throughput(stream))
    pool_rate = len(stream) / pool_s
    print(
        f"livedesk engine, 1-process pool:  {pool_rate:8,.0f} comments/s"
        f"  ({pool_rate / raw_rate:.1f}× raw; pool start-up {start_s:.1f} s, not counted)"
    )


if __name__ == "__main__":
    main()
