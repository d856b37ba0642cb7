"""tiers.yaml and greetings.yaml: the shipped files load, and each mistake names its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from livedesk.rulebook.book import CHECKS, RULE_FILES, Rulebook
from livedesk.rulebook.customers import TierRules
from livedesk.rulebook.greetings import (
    GREETING_PLACEHOLDERS,
    GreetingRules,
    check_greeting_tiers,
    render_template,
    template_fields,
)
from livedesk.rulebook.loader import RuleError, RulesInvalid, load_document

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"


def _errors(tmp_path: Path, name: str, text: str, schema: type[BaseModel]) -> list[RuleError]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesInvalid) as caught:
        load_document(path, schema)
    return caught.value.errors


def _line_of(text: str, marker: str) -> int:
    """1-based line of the only line containing `marker`."""
    lines = [i for i, line in enumerate(text.splitlines(), start=1) if marker in line]
    assert len(lines) == 1, f"{marker!r} found on lines {lines}"
    return lines[0]


def _shipped(name: str) -> str:
    return (RULES_DIR / name).read_text(encoding="utf-8")


def test_registered_in_the_rulebook() -> None:
    from livedesk.rulebook import schemas  # noqa: F401  the import that registers domains

    assert RULE_FILES["tiers.yaml"] is TierRules
    assert RULE_FILES["greetings.yaml"] is GreetingRules
    assert check_greeting_tiers in CHECKS


def test_shipped_rules_load(tier_rules: TierRules, greeting_rules: GreetingRules) -> None:
    assert [t.label for t in tier_rules.tiers] == ["青铜", "白银", "黄金", "钻石"]
    assert tier_rules.window_days == 365
    assert greeting_rules.queue.per_minute == 6
    book = Rulebook(
        RULES_DIR,
        {
            TierRules: load_document(RULES_DIR / "tiers.yaml", TierRules),
            GreetingRules: load_document(RULES_DIR / "greetings.yaml", GreetingRules),
        },
    )
    assert check_greeting_tiers(book) == []


def test_a_brand_can_rename_tiers(tmp_path: Path) -> None:
    text = _shipped("tiers.yaml").replace("label: 黄金", "label: 银钻").replace("钻石", "金钻")
    path = tmp_path / "tiers.yaml"
    path.write_text(text, encoding="utf-8")
    model = load_document(path, TierRules).model
    assert isinstance(model, TierRules)
    assert [t.label for t in model.tiers][-2:] == ["银钻", "金钻"]


def test_tiers_out_of_order_point_at_the_tier(tmp_path: Path) -> None:
    text = _shipped("tiers.yaml").replace(
        "min_spend_cents: 200000       # ¥2,000", "min_spend_cents: 40000  # out of order"
    )
    errors = _errors(tmp_path, "tiers.yaml", text, TierRules)
    assert len(errors) == 1
    assert errors[0].file == "tiers.yaml"
    assert errors[0].line == _line_of(text, "out of order")
    assert "lowest to highest" in errors[0].message


def test_duplicate_tier_ids_and_equal_thresholds(tmp_path: Path) -> None:
    text = _shipped("tiers.yaml").replace("id: diamond", "id: gold   # dup")
    errors = _errors(tmp_path, "tiers.yaml", text, TierRules)
    assert [e.line for e in errors] == [_line_of(text, "# dup")]
    assert "duplicate tier id" in errors[0].message

    text = _shipped("tiers.yaml").replace(
        "min_spend_cents: 600000       # ¥6,000\n    min_orders: 3",
        "min_spend_cents: 200000\n    min_orders: 2",
    )
    errors = _errors(tmp_path, "tiers.yaml", text, TierRules)
    assert len(errors) == 1
    assert "same thresholds" in errors[0].message
    assert errors[0].line == _line_of(text, "id: diamond")


def test_first_tier_must_be_the_floor(tmp_path: Path) -> None:
    text = _shipped("tiers.yaml").replace(
        "min_spend_cents: 0\n    min_orders: 0", "min_spend_cents: 100\n    min_orders: 0"
    )
    errors = _errors(tmp_path, "tiers.yaml", text, TierRules)
    assert any("floor" in e.message and e.line == _line_of(text, "id: bronze") for e in errors)


def test_cut_points_must_increase(tmp_path: Path) -> None:
    text = _shipped("tiers.yaml").replace(
        "frequency_orders: [2, 3, 5, 10]", "frequency_orders: [2, 3, 3, 10]"
    )
    errors = _errors(tmp_path, "tiers.yaml", text, TierRules)
    assert len(errors) == 1
    assert errors[0].line == _line_of(text, "frequency_orders:")
    assert errors[0].message.startswith("rfm.frequency_orders.2:")

    text = _shipped("tiers.yaml").replace("recency_days: [7, 30, 90, 180]", "recency_days: [7, 30]")
    errors = _errors(tmp_path, "tiers.yaml", text, TierRules)
    assert errors[0].line == _line_of(text, "recency_days: [7, 30]")


def test_weights_must_not_all_be_zero(tmp_path: Path) -> None:
    text = _shipped("tiers.yaml").replace(
        "big_promotion: {recency: 0.2, frequency: 0.3, monetary: 0.5}",
        "big_promotion: {recency: 0, frequency: 0, monetary: 0}",
    )
    errors = _errors(tmp_path, "tiers.yaml", text, TierRules)
    assert [e.line for e in errors] == [_line_of(text, "big_promotion:")]
    assert "must not all be 0" in errors[0].message


def test_churn_ratios_ordered_and_typos_caught(tmp_path: Path) -> None:
    text = _shipped("tiers.yaml").replace("high_ratio: 3.0", "high_ratio: 1.0")
    errors = _errors(tmp_path, "tiers.yaml", text, TierRules)
    assert [e.line for e in errors] == [_line_of(text, "high_ratio:")]

    text = _shipped("tiers.yaml").replace("min_days_since_last: 180", "min_day_since_last: 180")
    errors = _errors(tmp_path, "tiers.yaml", text, TierRules)
    assert [e.line for e in errors] == [_line_of(text, "min_day_since_last")]


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("欢迎{name}", "unknown placeholder {name}"),
        ("欢迎{nickname.__class__}", "attribute/index access"),
        ("欢迎{0.__class__}", "attribute/index access"),
        ("欢迎{nickname[0]}", "attribute/index access"),
        ("欢迎{}", "positional"),
        ("欢迎{nickname!r}", "no conversions"),
        ("欢迎{nickname:>20}", "no conversions or format specs"),
        ("欢迎{nickname", "bad placeholder syntax"),
    ],
)
def test_bad_greeting_templates_fail_at_load(tmp_path: Path, template: str, reason: str) -> None:
    text = _shipped("greetings.yaml").replace(
        '"{nickname}好久不见，欢迎回来！"', f'"{template}"  # bad'
    )
    errors = _errors(tmp_path, "greetings.yaml", text, GreetingRules)
    assert len(errors) == 1
    assert errors[0].file == "greetings.yaml"
    assert errors[0].line == _line_of(text, "# bad")
    assert reason in errors[0].message


def test_a_default_template_is_required(tmp_path: Path) -> None:
    base = _shipped("greetings.yaml")
    text = base.replace('  - text: "欢迎{nickname}回来～"\n', "")
    errors = _errors(tmp_path, "greetings.yaml", text, GreetingRules)
    assert len(errors) == 1
    assert "add a default template" in errors[0].message
    assert errors[0].line == _line_of(text, "templates:") + 1  # the list's first item
    # The default must not need values some customers lack.
    text = base.replace('"欢迎{nickname}回来～"', '"欢迎{nickname}，{last_item}好用吗"')
    errors = _errors(tmp_path, "greetings.yaml", text, GreetingRules)
    assert "add a default template" in errors[0].message


def test_merged_template_needs_a_count(tmp_path: Path) -> None:
    text = _shipped("greetings.yaml").replace(
        '"欢迎{names}等{count}位老朋友回来"', '"欢迎{names}回来"  # no count'
    )
    errors = _errors(tmp_path, "greetings.yaml", text, GreetingRules)
    assert [e.line for e in errors] == [_line_of(text, "# no count")]


def test_unknown_tier_in_greetings_is_a_cross_file_error(tmp_path: Path) -> None:
    text = _shipped("greetings.yaml").replace(
        "  - tiers: [diamond, gold]\n    text:", "  - tiers: [diamond, platinum]\n    text:"
    )
    path = tmp_path / "greetings.yaml"
    path.write_text(text, encoding="utf-8")
    book = Rulebook(
        tmp_path,
        {
            TierRules: load_document(RULES_DIR / "tiers.yaml", TierRules),
            GreetingRules: load_document(path, GreetingRules),
        },
    )
    errors = check_greeting_tiers(book)
    assert len(errors) == 1
    assert errors[0].file == "greetings.yaml"
    assert errors[0].line == _line_of(text, "platinum")
    assert "unknown tier 'platinum'" in errors[0].message


def test_render_inserts_values_verbatim() -> None:
    template = "欢迎{tier_label}{nickname}回家，{{不是占位符}}"
    assert template_fields(template, GREETING_PLACEHOLDERS) == ["tier_label", "nickname"]
    hostile = "{0.__class__}{tier_label}{{x}}"
    rendered = render_template(template, {"tier_label": "钻石", "nickname": hostile})
    assert rendered == "欢迎钻石{0.__class__}{tier_label}{{x}}回家，{不是占位符}"
