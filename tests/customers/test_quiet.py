"""Do-not-greet for the session (pure): the quiet list and its rules."""

from __future__ import annotations

import orjson

from livedesk.cues.quiet import QuietList
from support import REPO


def test_the_quiet_list_is_pure_and_survives_a_handover(greeting_rules) -> None:
    quiet = QuietList()
    labels = {"after_sales": "售后问题", "price_objection": "价格异议"}
    assert (
        quiet.on_comment(7, "王姐", "太贵了", ["price_objection"], greeting_rules, labels) is None
    )
    alert = quiet.on_comment(7, "王姐", "退款！", ["after_sales"], greeting_rules, labels)
    assert alert is not None and alert["reason"] == "refund_in_progress"
    # Once per session and customer.
    assert quiet.on_comment(7, "王姐", "退款！！", ["after_sales"], greeting_rules, labels) is None
    moved = QuietList.from_dict(orjson.loads(orjson.dumps(quiet.to_dict())))
    assert moved.reason_for(7, None) == "refund_in_progress"
    # The record's own reason wins when it matters more.
    assert moved.reason_for(7, "opted_out") == "opted_out"
    assert moved.reason_for(8, None) is None


def test_an_unknown_intent_in_the_rules_is_refused(tmp_path) -> None:
    from livedesk.rulebook.book import load_rulebook
    from livedesk.rulebook.loader import RulesInvalid

    rules = tmp_path / "rules"
    rules.mkdir()
    for source in (REPO / "rules").glob("*.yaml"):
        (rules / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    text = (rules / "greetings.yaml").read_text(encoding="utf-8")
    (rules / "greetings.yaml").write_text(
        text.replace("  quality_complaint: open_complaint", "  complaints: open_complaint"),
        encoding="utf-8",
    )
    try:
        load_rulebook(rules)
    except RulesInvalid as invalid:
        assert "unknown intent 'complaints'" in str(invalid)
    else:
        raise AssertionError("an unknown intent was accepted")
