"""Danmaku sentiment: snownlp, corrected by a live-commerce lexicon, kept off the event loop.

Scores run from 0 (negative) through 0.5 (neutral) to 1 (positive). A comment goes through:

1. `normalize_text` (one cache key for 666 / ６６６６６ / 6666666);
2. a bounded LRU cache of scores (danmaku repeat heavily);
3. a fast path for trivial comments (emoji, digits, 哈哈, 已拍, ？？？) scored by the lexicon
   alone — these never reach snownlp;
4. otherwise the model: snownlp's score combined with the domain lexicon (with negation), in a
   process pool so the CPU-bound work never blocks the event loop.

See docs/sentiment.md for the thresholds, the dev set and the measured gains.
"""

from __future__ import annotations

import asyncio
import ctypes
import math
import multiprocessing
import os
import re
import signal
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from livedesk.analysis.normalize import normalize_text

SentimentLabel = Literal["neg", "neu", "pos"]

# Below NEG_THRESHOLD reads as negative, above POS_THRESHOLD as positive, between is neutral.
NEG_THRESHOLD = 0.4
POS_THRESHOLD = 0.6
NEUTRAL = 0.5

LEXICON_PATH = Path(__file__).parent / "data" / "sentiment_lexicon.tsv"

# How the lexicon and snownlp are mixed. Chosen on the dev half of the dev set only (the test
# half is reported, never tuned on); see docs/sentiment.md.
LEXICON_GAIN = 1.6  # lexicon sum → probability: sigmoid(gain * sum)
LEXICON_WEIGHT = 0.75  # share of the lexicon when it found a term; snownlp gets the rest
MODEL_SHRINK = 0.5  # snownlp alone is over-confident on short comments: pull it toward 0.5
QUESTION_SHRINK = 0.35  # a question is mostly an inquiry, whatever words it contains
NEGATED_POSITIVE = -1.0  # 不好用: at least as negative as 好用 is positive
NEGATED_NEGATIVE = 0.5  # 不贵: mildly positive only
INTENSIFIED = 1.3  # 太贵, 超好用

_NEGATOR_BEFORE = re.compile(
    r"(?:不|没|没有|没什么|别|不太|不怎么|不是很|一点都不|一点也不|毫无|并不|不是|不会|无)$"
)
_NEGATOR_AFTER = re.compile(r"^(?:都没有|也没有|都没|也没|都不|也不)")
_INTENSIFIER_BEFORE = re.compile(r"(?:太|超|超级|非常|特别|好|很|真|巨|贼|真的)$")
_QUESTION = re.compile(
    r"[?吗嘛么呢]$|多少|几[个号天点岁件斤片次码]|什么|哪|怎么样|怎么[选用买领弄办]|有没有|"
    r"能不能|是不是|可不可以|会不会|适合吗|可以吗|多久|(\w)不\1"
)
# Trivial comments: nothing but digits, laughter, punctuation/emoji, platform emotes ([赞]) and
# bare purchase confirmations. Their sentiment is fully known from the lexicon.
_TRIVIAL = re.compile(r"(?:\[[^\[\]\s]{1,6}\]|已拍|拍了|已下单|下单了|已买|\d|[哈h嘿嘻]|[^\w]|_)+")
_DIGITS_ONLY = re.compile(r"\d+")
# Repeated digits mean something in live rooms: 666 praise, 111 (扣1) "I want it", 888 luck.
_DIGIT_SCORES = {"6": 0.85, "1": 0.7, "8": 0.75}


def label_of(score: float) -> SentimentLabel:
    """Map a score to neg / neu / pos with the documented thresholds."""
    if score < NEG_THRESHOLD:
        return "neg"
    if score > POS_THRESHOLD:
        return "pos"
    return "neu"


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))


@dataclass(frozen=True)
class LexiconHits:
    total: float  # signed sum of weights after negation / intensifiers
    count: int


class DomainLexicon:
    """Weighted live-commerce terms, matched longest-first in one compiled regex."""

    def __init__(self, weights: dict[str, float]):
        if not weights:
            raise ValueError("the sentiment lexicon is empty")
        self.weights = {normalize_text(term): weight for term, weight in weights.items()}
        ordered = sorted(self.weights, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(term) for term in ordered))

    @classmethod
    def from_file(cls, path: Path) -> DomainLexicon:
        weights: dict[str, float] = {}
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            term, sep, weight = raw.partition("\t")
            try:
                weights[term.strip()] = float(weight)
            except ValueError:
                raise ValueError(f"{path.name}:{number}: expected term<TAB>weight") from None
            if not sep or not term.strip():
                raise ValueError(f"{path.name}:{number}: expected term<TAB>weight")
        return cls(weights)

    def polarity(self, text: str) -> LexiconHits:
        """Sum the weights of the terms in a normalised text, with negation and intensifiers."""
        total = 0.0
        count = 0
        for match in self._pattern.finditer(text):
            weight = self.weights[match.group()]
            start, end = match.span()
            before = text[max(0, start - 4) : start]
            if _NEGATOR_BEFORE.search(before) or _NEGATOR_AFTER.match(text, end, end + 3):
                weight = (
                    NEGATED_POSITIVE * max(weight, 1.0)
                    if weight > 0
                    else NEGATED_NEGATIVE * -weight
                )
            elif _INTENSIFIER_BEFORE.search(before):
                weight *= INTENSIFIED
            total += weight
            count += 1
        return LexiconHits(total, count)


@cache
def default_lexicon() -> DomainLexicon:
    """The lexicon shipped in livedesk/analysis/data/ (loaded once per process)."""
    return DomainLexicon.from_file(LEXICON_PATH)


def is_trivial(normalized: str) -> bool:
    """True for comments with no content to analyse: emoji, digits, 哈哈, 已拍, ？？？ …"""
    return not normalized or _TRIVIAL.fullmatch(normalized) is not None


def fast_path_score(normalized: str, lexicon: DomainLexicon) -> float | None:
    """The score of a trivial comment from the lexicon alone, or None if it needs the model."""
    if not is_trivial(normalized):
        return None
    compact = normalized.replace(" ", "")
    if _DIGITS_ONLY.fullmatch(compact):
        digits = set(compact)
        return _DIGIT_SCORES.get(compact[0], NEUTRAL) if len(digits) == 1 else NEUTRAL
    hits = lexicon.polarity(normalized)
    return _sigmoid(LEXICON_GAIN * hits.total) if hits.count else NEUTRAL


def combine(model_score: float, hits: LexiconHits, *, is_question: bool) -> float:
    """Mix snownlp's score with the lexicon's verdict (pure; documented in docs/sentiment.md)."""
    if hits.count:
        lexicon_score = _sigmoid(LEXICON_GAIN * hits.total)
        score = LEXICON_WEIGHT * lexicon_score + (1.0 - LEXICON_WEIGHT) * model_score
    else:
        score = NEUTRAL + (model_score - NEUTRAL) * MODEL_SHRINK
    if is_question:
        score = NEUTRAL + (score - NEUTRAL) * QUESTION_SHRINK
    return min(1.0, max(0.0, score))


# --- the model, one per process (pool worker, or the main process when processes=0) ----------

_model_lock = threading.Lock()
# snownlp's classifier; tests may wrap it to count calls.
_model_classify: Callable[[str], float] | None = None


def _init_worker(parent_pid: int) -> None:
    """A pool process: die with the server process (even a kill -9 of it), then load the model."""
    if sys.platform == "linux":
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the server died before the line above ran
            os._exit(1)
    _init_model()


def _init_model() -> None:
    """Import snownlp (≈ 2.7 s: it loads all its models) and the lexicon, once per process."""
    global _model_classify
    with _model_lock:
        if _model_classify is None:
            # SnowNLP(text).sentiments is exactly sentiment.classify(text); calling it directly
            # skips the BM25 index SnowNLP() builds for every text.
            from snownlp import sentiment as snow_sentiment

            default_lexicon()
            _model_classify = snow_sentiment.classify


def model_score(normalized: str) -> float:
    """snownlp + lexicon for one normalised, non-trivial text (in this process)."""
    if _model_classify is None:
        _init_model()
    assert _model_classify is not None
    hits = default_lexicon().polarity(normalized)
    return combine(
        float(_model_classify(normalized)),
        hits,
        is_question=_QUESTION.search(normalized) is not None,
    )


def _score_batch(texts: list[str]) -> list[float]:
    return [model_score(text) for text in texts]


def _warm_up() -> int:
    _init_model()
    return multiprocessing.current_process().pid or 0


# --- the engine ------------------------------------------------------------------------------


@dataclass
class SentimentStats:
    texts: int = 0
    cache_hits: int = 0
    fast_path: int = 0
    model_texts: int = 0  # texts sent to snownlp (after de-duplication within a call)


class SentimentEngine:
    """Scores danmaku in batches; CPU work runs in a process pool (or a thread if processes=0).

    `processes=0` runs snownlp in `asyncio.to_thread` in this process: no extra process, but it
    holds the GIL while it works, so only for small rooms and tests.
    """

    def __init__(
        self,
        *,
        processes: int = 1,
        cache_size: int = 50_000,
        batch_size: int = 256,
        max_pending_batches: int | None = None,
    ):
        if processes < 0 or cache_size < 0 or batch_size < 1:
            raise ValueError("processes and cache_size must be ≥ 0, batch_size ≥ 1")
        self.processes = processes
        self.cache_size = cache_size
        self.batch_size = batch_size
        self.stats = SentimentStats()
        self._cache: OrderedDict[str, float] = OrderedDict()
        self._pool: ProcessPoolExecutor | None = None
        # Bounds the batches queued to the pool: callers wait instead of piling work up.
        self._pending = asyncio.Semaphore(max_pending_batches or max(2, 2 * processes))
        self._lexicon = default_lexicon()
        self._started = False

    async def start(self) -> None:
        """Start the workers and wait until each has loaded snownlp."""
        if self._started:
            return
        if self.processes:
            self._pool = self._new_pool()
            loop = asyncio.get_running_loop()
            # Submitted together, each warm-up lands on a fresh worker (spawned on demand).
            await asyncio.gather(
                *(loop.run_in_executor(self._pool, _warm_up) for _ in range(self.processes))
            )
        else:
            await asyncio.to_thread(_init_model)
        self._started = True

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        self._started = False
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    async def score_many(self, texts: Sequence[str]) -> list[float]:
        """Scores in the order of `texts`; the model runs off the event loop."""
        if not self._started:
            raise RuntimeError("SentimentEngine.start() was not awaited")
        results, misses = self._plan(texts)
        if misses:
            keys = list(misses)
            # Spread one call over every worker process: its caller waits for the slowest chunk.
            size = min(self.batch_size, -(-len(keys) // max(1, self.processes)))
            chunks = [keys[i : i + size] for i in range(0, len(keys), size)]
            scored = await asyncio.gather(*(self._run_batch(chunk) for chunk in chunks))
            self._fill(results, misses, [s for chunk_scores in scored for s in chunk_scores])
        return [NEUTRAL if score is None else score for score in results]

    def score_sync(self, texts: Sequence[str]) -> list[float]:
        """The same scoring in the calling thread (tests, benchmarks, scripts)."""
        results, misses = self._plan(texts)
        if misses:
            self._fill(results, misses, _score_batch(list(misses)))
        return [NEUTRAL if score is None else score for score in results]

    def _plan(self, texts: Sequence[str]) -> tuple[list[float | None], dict[str, list[int]]]:
        results: list[float | None] = [None] * len(texts)
        misses: dict[str, list[int]] = {}
        cache_ = self._cache
        for index, text in enumerate(texts):
            key = normalize_text(text)
            cached = cache_.get(key)
            if cached is not None:
                cache_.move_to_end(key)
                results[index] = cached
                self.stats.cache_hits += 1
                continue
            quick = fast_path_score(key, self._lexicon)
            if quick is not None:
                results[index] = quick
                self.stats.fast_path += 1
                continue
            misses.setdefault(key, []).append(index)
        self.stats.texts += len(texts)
        self.stats.model_texts += len(misses)
        return results, misses

    def _fill(
        self, results: list[float | None], misses: dict[str, list[int]], scores: list[float]
    ) -> None:
        for (key, indexes), score in zip(misses.items(), scores, strict=True):
            for index in indexes:
                results[index] = score
            if self.cache_size:
                self._cache[key] = score
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def _run_batch(self, texts: list[str]) -> list[float]:
        async with self._pending:
            if self._pool is None:
                return await asyncio.to_thread(_score_batch, texts)
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(self._pool, _score_batch, texts)
            except BrokenProcessPool:
                # A worker died (OOM killer, signal): replace the pool once and retry this batch.
                self._pool = self._new_pool()
                return await loop.run_in_executor(self._pool, _score_batch, texts)

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )
