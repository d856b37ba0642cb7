"""Compliance: 广告法 words banned from every template of every rule file; sensitive comments."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from livedesk.rulebook.book import load_rulebook
from livedesk.rulebook.compliance import ComplianceRules, flag_comment
from livedesk.rulebook.loader import RulesInvalid

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"


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
    covered = [False] * len(text)
    for phrase in compliance_rules.allow:
        for m in re.finditer(f"(?={re.escape(phrase)})", text):
            covered[m.start() : m.start() + len(phrase)] = [True] * len(phrase)
    bare = any(
        not all(covered[m.start() : m.start() + len(word)])
        for word in compliance_rules.banned_words
        for m in re.finditer(f"(?={re.escape(word)})", text)
    )
    assert bool(compliance_rules.banned_in(text)) == bare
