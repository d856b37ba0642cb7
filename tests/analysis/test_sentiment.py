"""Sentiment: normalisation, the lexicon in context, the n-gram model, the cache, and the
held-aside figures issue 16 asks for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import devsets
from livedesk.analysis.ngram import NgramModel, default_model, features, train
from livedesk.analysis.normalize import normalize_text
from livedesk.analysis.polarity import default_lexicon, is_question, trie_pattern
from livedesk.analysis.sentiment import SentimentEngine, is_trivial, label_of


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("哈哈哈哈哈", "哈哈哈"),
        ("66666666", "666"),
        ("６６６６６", "666"),
        ("  YYDS！！ ", "yyds!!"),
        ("好看好看好看好看", "好看好看"),
        ("[赞][赞][赞][赞]", "[赞][赞]"),
        ("主播\t 晚上好\n", "主播 晚上好"),
        ("已拍", "已拍"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@given(st.text(max_size=40))
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


def test_thresholds() -> None:
    assert [label_of(s) for s in (0.0, 0.39, 0.4, 0.5, 0.6, 0.61, 1.0)] == [
        "neg", "neg", "neu", "neu", "neu", "pos", "pos"
    ]  # fmt: skip


@settings(deadline=None)  # a busy CI machine must not fail a correctness property
@given(st.lists(st.text(alphabet="好看贵不太差了吗", min_size=1, max_size=4), min_size=1))
def test_trie_pattern_finds_what_a_longest_first_alternation_finds(terms: list[str]) -> None:
    alternation = re.compile("|".join(re.escape(t) for t in sorted(set(terms), key=len)[::-1]))
    trie = re.compile(trie_pattern(terms))
    for text in ("不太好看了吗", "好贵好贵", "差不多了", "".join(terms)):
        assert [m.group() for m in trie.finditer(text)] == [
            m.group() for m in alternation.finditer(text)
        ]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("这款真的yyds，绝绝子", "pos"),
        ("已回购三次了，好用", "pos"),
        ("好便宜啊，冲了", "pos"),
        ("踩雷了，纯纯智商税", "neg"),
        ("太贵了吧", "neg"),
        ("收到是假货，要退货", "neg"),
        ("不好用", "neg"),
        ("一点都不好用", "neg"),
        ("用了两个月没效果", "neg"),
        ("什么时候发货", "neu"),
        ("160穿什么码", "neu"),
        ("效果怎么样", "neu"),
        # single characters inside words that mean something else
        ("给孩子订的蒙牛纯牛奶", "neu"),
        ("这牛排又柴又腥", "neg"),
        ("牛哇牛哇", "pos"),
        ("差不多用完一瓶了，皮肤细腻了", "pos"),
        ("慢慢用，不着急", "neu"),
        ("雷打不动每个月都回购", "pos"),
        ("破洞牛仔裤穿上很有型", "pos"),
        # comparisons
        ("还不如超市便宜，白等三天快递", "neg"),
        ("没有别家好用", "neg"),
        ("比超市便宜多了", "pos"),
        ("不比大牌差", "pos"),
        # double negation and chat memes
        ("很难不满意", "pos"),
        ("很难不爱这个颜色", "pos"),
        ("太强了", "pos"),
        ("厉害厉害", "pos"),
        ("多喝热水", "neu"),
        ("破防了", "neu"),
        # rhetorical questions stay complaints; worries stay neutral
        ("什么破东西", "neg"),
        ("怎么还不发货，等了一周了", "neg"),
        ("会掉色吗", "neu"),
        ("没有异味，拆开就能用", "pos"),
        ("一个坏的都没有，很新鲜", "pos"),
    ],
)
def test_live_commerce_language(text: str, label: str) -> None:
    assert label_of(SentimentEngine().score_sync([text])[0]) == label


def test_negation_flips_the_lexicon() -> None:
    good, not_good, pricey, not_pricey = SentimentEngine().score_sync(
        ["好用", "不好用", "太贵", "不贵"]
    )
    assert not_good < 0.4 < 0.6 < good
    assert pricey < not_pricey


def test_questions_and_rhetorical_questions() -> None:
    assert is_question("效果怎么样")
    assert is_question("包邮吗")
    assert is_question("好不好用")
    assert not is_question("什么破东西")
    assert not is_question("凭什么不给退")
    assert not is_question("好用")


def test_lexicon_handles_what_the_model_then_does_not_read() -> None:
    hits = default_lexicon().polarity("多喝热水,没有异味")
    assert hits.handled_spans == ((0, 4), (5, 9))  # the meme, then negator + term
    assert hits.total > 0  # 没有异味 reads as mildly positive


async def test_trivial_comments_and_the_cache() -> None:
    engine = SentimentEngine(cache_size=3)
    await engine.start()
    trivial = [
        "666",
        "６６６６６６",
        "已拍",
        "哈哈哈哈哈",
        "？？？",
        "👍👍👍",
        "[赞][赞]",
        "😡",
        "",
    ]
    scores = await engine.score_many(trivial)
    assert all(is_trivial(normalize_text(text)) for text in trivial)
    assert engine.stats.model_texts == 0
    assert [label_of(scores[i]) for i in (0, 2, 4, 7)] == ["pos", "pos", "neu", "neg"]

    engine = SentimentEngine(cache_size=3)
    await engine.start()
    first = await engine.score_many(["YYDS 真好用", "yyds   真好用", "ＹＹＤＳ 真好用"])
    assert engine.stats.model_texts == 1  # three spellings, one text scored
    assert first[0] == first[1] == first[2]
    assert await engine.score_many(["yyds 真好用"]) == first[:1]
    assert engine.stats.cache_hits == 1
    await engine.score_many(["面料很舒服", "发货有点慢", "颜色很正"])  # LRU: pushes it out
    assert len(engine._cache) == 3
    await engine.score_many(["yyds 真好用"])
    assert engine.stats.model_texts == 5


async def test_score_many_requires_start() -> None:
    with pytest.raises(RuntimeError):
        await SentimentEngine().score_many(["好看"])


def test_ngram_model_learns_and_round_trips(tmp_path: Path) -> None:
    examples = [("质量很好", True, 1.0), ("很好用", True, 1.0), ("质量太差", False, 1.0)] * 5
    examples += [("太差了", False, 1.0), ("做工差", False, 1.0)] * 5
    model = train(examples, min_count=2, epochs=20)
    assert model.logit("好") > 0 > model.logit("差")
    path = tmp_path / "model.tsv.gz"
    model.save(path)
    first = path.read_bytes()
    loaded = NgramModel.from_file(path)
    assert loaded.logit("质量很好") == pytest.approx(model.logit("质量很好"), abs=0.01)
    model.save(path)
    assert path.read_bytes() == first  # same model, same bytes
    assert features("好 用") == {"好", "用", "好用"}


def test_shipped_model_is_small_and_loads() -> None:
    model = default_model()
    assert 20_000 < len(model.weights) < 200_000
    assert model.logit("质量很好,很满意") > 0 > model.logit("质量太差,很失望")


def _figures(name: str, split: devsets.Split) -> tuple[float, float, float]:
    rows = devsets.load(name, split)
    labels = [label_of(s) for s in SentimentEngine(cache_size=0).score_sync([r.text for r in rows])]
    accuracy = sum(p == r.label for p, r in zip(labels, rows, strict=True)) / len(rows)
    negatives = [p for p, r in zip(labels, rows, strict=True) if r.label == "neg"]
    said_neg = [r.label for p, r in zip(labels, rows, strict=True) if p == "neg"]
    recall = sum(p == "neg" for p in negatives) / len(negatives)
    wrong = sum(label != "neg" for label in said_neg) / max(1, len(said_neg))
    return accuracy, recall, wrong


def test_held_aside_sentiment_targets() -> None:
    """Issue 16's targets on the held-aside halves (never tuned on); the bench prints the
    same figures beside raw snownlp's: load_tests/bench_sentiment.py."""
    accuracy, negative_recall, _ = _figures("reviews", "held")
    assert accuracy >= 0.88
    assert negative_recall >= 0.85
    accuracy, _, _ = _figures("danmaku_sentiment", "held")
    assert accuracy >= 0.85
    _, _, wrong_among_negative = _figures("fanchat", "held")
    assert wrong_among_negative <= 0.25
