"""Compliance: 广告法 words banned from every template of every rule file; sensitive comments."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from livedesk.rulebook.book import load_rulebook
from livedesk.rulebook.compliance import ComplianceRules, flag_comment
from livedesk.rulebook.loader import RulesInvalid
from livedesk.simulator.danmaku import DEFAULT_SAMPLER

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "rules"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("这是全网最低价", ["全网最低"]),
        ("这款效果最好", ["最"]),
        ("最近很多宝宝在问", []),
        ("最后三单，拍完下架", []),
        ("最近这款最好卖", ["最"]),  # the allowed phrase hides only its own 最
        ("第一时间发货", []),
        ("销量第一", ["第一"]),
        ("100%纯棉", ["100%"]),
        ("顶级原料，国家级工艺", ["顶级", "国家级"]),
        ("满300减50，今晚老客专享价", []),
    ],
)
def test_banned_words(compliance_rules: ComplianceRules, text: str, found: list[str]) -> None:
    assert compliance_rules.banned_in(text) == found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # full-width letters, digits and signs
        ("１００％纯棉", ["100%"]),
        ("ＴＯＰ级 ＺＵＩ好", ["最"]),
        # traditional characters
        ("國家級工藝", ["国家级"]),
        ("絕對正品，獨家配方", ["绝对", "独家"]),
        ("頂級原料", ["顶级"]),
        # spaces, punctuation, symbols and invisible characters inside a word
        ("绝 对有效", ["绝对"]),
        ("绝*对有效", ["绝对"]),
        ("第-一名", ["第一"]),
        ("国.家.级", ["国家级"]),
        ("绝\u200b对", ["绝对"]),
        ("绝🔥对", ["绝对"]),
        ("1 0 0 % 好评", ["100%"]),
        # pinyin and Latin spellings, alone or mixed with characters
        ("ZUI好的精华", ["最"]),
        ("zui好", ["最"]),
        ("zuihao", ["最"]),
        ("销量 di yi", ["第一"]),
        ("销量Di Yi", ["第一"]),
        ("diyi名", ["第一"]),
        ("dǐ yī", ["第一"]),
        ("juedui正品", ["绝对"]),
        ("绝dui", ["绝对"]),
        ("第yi", ["第一"]),
        ("DuJia配方", ["独家"]),
        ("guo jia ji 工艺", ["国家级"]),
        # several disguises at once
        ("絕 dui 是 ＺＵＩ 好", ["绝对", "最"]),
    ],
)
def test_disguised_banned_words_are_caught(
    compliance_rules: ComplianceRules, text: str, found: list[str]
) -> None:
    assert compliance_rules.banned_in(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "最近很多宝宝在问",
        "第一次买，第一时间发货",
        "zui jin 很多人问",  # 最近 in pinyin is still 最近
        "ZuiJin上新",
        "价格再低一点吧",  # reads di yi, but characters are never turned into pinyin
        "一次性买够",
        "weiyin",  # wei·yin, not wei·yi (唯一)
        "hello world，Vitamin C 精华",
        "DIY面膜，第二瓶半价",
        "10%的折扣，100元券",  # 100元 is not 100%
        "满 300 减 50",
        "zhui 剧的姐妹",
    ],
)
def test_ordinary_text_is_not_flagged(compliance_rules: ComplianceRules, text: str) -> None:
    assert compliance_rules.banned_in(text) == []


def _plain_oracle(rules: ComplianceRules, text: str) -> bool:
    """A banned word written as is, outside every allowed phrase (no disguise undone)."""
    covered = [False] * len(text)
    for phrase in rules.allow:
        for m in re.finditer(f"(?={re.escape(phrase)})", text):
            covered[m.start() : m.start() + len(phrase)] = [True] * len(phrase)
    return any(
        not all(covered[m.start() : m.start() + len(word)])
        for word in rules.banned_words
        for m in re.finditer(f"(?={re.escape(word.lower())})", text.lower())
    )


def test_undoing_disguises_adds_no_flag_on_real_danmaku_and_rule_texts(
    compliance_rules: ComplianceRules,
) -> None:
    """On the sentiment dev set (619 real-shaped danmaku), the simulator's phrases and every
    string of the default rule files, the folded check flags exactly what the plain one does."""
    texts = [
        line.split("\t", 1)[1]
        for line in (REPO / "load_tests" / "data" / "danmaku_sentiment.tsv")
        .read_text("utf-8")
        .splitlines()
    ]
    rng = random.Random(17)
    texts += [DEFAULT_SAMPLER.sample(rng).text for _ in range(3000)]
    for path in RULES_DIR.glob("*.yaml"):
        if path.name != "compliance.yaml":
            texts += _strings(yaml.safe_load(path.read_text("utf-8")))
    assert len(texts) > 3600
    differing = [
        text
        for text in texts
        if bool(compliance_rules.banned_in(text)) != _plain_oracle(compliance_rules, text)
    ]
    assert differing == []


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


def test_flag_comment(compliance_rules: ComplianceRules) -> None:
    assert flag_comment("再不退款我就打12315投诉你们", compliance_rules) == ["12315", "投诉"]
    assert flag_comment("加V私聊便宜", compliance_rules) == ["加v"]  # case-insensitive
    assert flag_comment("主播好美，已拍", compliance_rules) == []
    assert flag_comment("投诉投诉投诉", compliance_rules) == ["投诉"]


def test_schema_rejects_useless_or_empty_words() -> None:
    with pytest.raises(ValidationError, match="contains no banned word"):
        ComplianceRules.model_validate({"banned_words": ["最"], "allow": ["近期"]})
    with pytest.raises(ValidationError, match="at least 1 character"):
        ComplianceRules.model_validate({"banned_words": ["最", " "]})
    with pytest.raises(ValidationError):
        ComplianceRules.model_validate({"banned_words": []})


def copy_rules(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


def test_default_rules_pass_every_check() -> None:
    book = load_rulebook(RULES_DIR)
    assert book.get(ComplianceRules).banned_words


def test_banned_word_in_any_file_is_reported_with_its_line(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    hints = rules / "hints.yaml"
    text = hints.read_text(encoding="utf-8")
    text = text.replace("强调今晚老客专享价", "强调今晚全网最低价", 1)
    hints.write_text(text, encoding="utf-8")
    expected_hint_line = next(
        n for n, line in enumerate(text.splitlines(), 1) if "全网最低价" in line
    )
    greetings = rules / "greetings.yaml"
    g_text = greetings.read_text(encoding="utf-8")
    # A nested key (queue.merge.template) and a `text:` key in another domain's file.
    g_text = g_text.replace('template: "欢迎{names}', 'template: "欢迎顶级{names}', 1)
    g_text = g_text.replace("- text: ", "- text: 第一名", 1)
    greetings.write_text(g_text, encoding="utf-8")

    with pytest.raises(RulesInvalid) as caught:
        load_rulebook(rules)
    errors = {(e.file, e.line): e.message for e in caught.value.errors}
    assert errors[("hints.yaml", expected_hint_line)].startswith(
        "banned advertising word '全网最低' in template"
    )
    g_lines = g_text.splitlines()
    merge_line = next(n for n, line in enumerate(g_lines, 1) if "欢迎顶级" in line)
    text_line = next(n for n, line in enumerate(g_lines, 1) if "第一名" in line)
    assert "'顶级'" in errors[("greetings.yaml", merge_line)]
    assert "'第一'" in errors[("greetings.yaml", text_line)]
    assert len(caught.value.errors) == 3


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_product_cards_campaign_titles_and_tier_labels_are_checked(tmp_path: Path) -> None:
    """What lands on the host's screen from products.yaml (name, talking points), red-packet and
    coupon titles and keywords, and tier labels (in greetings) is checked, disguises too."""
    rules = copy_rules(tmp_path)
    edits = {
        "products.yaml": [
            ("name: 抗老精华", "name: 國家級抗老精华"),
            ("一盒十片", "一盒十片 di yi 名"),
        ],
        "red_packets.yaml": [
            ("title: 老客复购红包", "title: 绝 对复购红包"),
            ("keyword: 积分", "keyword: ZUI好积分"),
        ],
        "coupons.yaml": [("title: 黄金会员专享", "title: 独家会员专享")],
        "tiers.yaml": [("label: 钻石", "label: 顶级钻石")],
    }
    expected: set[tuple[str, int, str]] = set()
    for file_name, replacements in edits.items():
        path = rules / file_name
        text = path.read_text(encoding="utf-8")
        for old, new in replacements:
            assert old in text, old
            text = text.replace(old, new, 1)
            expected.add((file_name, _line_of(text, new), ""))
        path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesInvalid) as caught:
        load_rulebook(rules)
    found = {(e.file, e.line, "") for e in caught.value.errors}
    assert found == expected
    messages = sorted(str(e) for e in caught.value.errors)
    assert any("'国家级' in name" in m for m in messages)
    assert any("'第一' in talking_points" in m for m in messages)
    assert any("'绝对' in title" in m for m in messages)
    assert any("'最' in keyword" in m for m in messages)
    assert any("'独家' in title" in m for m in messages)
    assert any("'顶级' in label" in m for m in messages)


def test_words_outside_template_keys_are_not_checked(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    # compliance.yaml itself lists the words, and a comment may mention them: neither counts.
    hints = rules / "hints.yaml"
    hints.write_text("# 最好的提示\n" + hints.read_text(encoding="utf-8"), encoding="utf-8")
    load_rulebook(rules)


def test_unknown_intent_in_hints_is_reported(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    hints = rules / "hints.yaml"
    text = hints.read_text(encoding="utf-8").replace("  shipping:", "  shiping:", 1)
    hints.write_text(text, encoding="utf-8")
    with pytest.raises(RulesInvalid) as caught:
        load_rulebook(rules)
    (error,) = caught.value.errors
    line = next(n for n, line in enumerate(text.splitlines(), 1) if "shiping:" in line)
    assert (error.file, error.line) == ("hints.yaml", line)
    assert "unknown intent 'shiping'" in error.message


FRAGMENTS = [
    "今晚",
    "宝宝",
    "好",
    "卖",
    "价",
    "，",
    "最",
    "最近",
    "最后",
    "第一",
    "第一时间",
    "第一次",
    "顶级",
    "100%",
    "绝对",
    "全网最低",
    "次",
    "近",
    "时间",
]


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.sampled_from(FRAGMENTS), max_size=12))
def test_banned_iff_a_banned_word_lies_outside_every_allowed_phrase(
    compliance_rules: ComplianceRules, parts: list[str]
) -> None:
    text = "".join(parts)
    # Punctuation inside a word does not hide it (绝，对 is 绝对), so the oracle reads the text
    # without it.
    assert bool(compliance_rules.banned_in(text)) == _plain_oracle(
        compliance_rules, text.replace("，", "")
    )
