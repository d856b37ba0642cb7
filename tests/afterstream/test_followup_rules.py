"""rules/followup.yaml: a template may only say what its condition knows; intents must exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from livedesk.rulebook.followup import FollowUpRules
from livedesk.rulebook.loader import RulesInvalid, load_document
from support import REPO


def _load(tmp_path: Path, old: str, new: str) -> None:
    text = (REPO / "rules" / "followup.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "followup.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    load_document(path, FollowUpRules)


def test_the_shipped_rules_load(tmp_path: Path) -> None:
    _load(tmp_path, "actions:", "actions:")


def test_a_template_saying_what_its_condition_does_not_know(tmp_path: Path) -> None:
    with pytest.raises(RulesInvalid) as invalid:
        _load(tmp_path, "谢谢来看直播，下场", "{coupon_title}谢谢来看直播，下场")
    assert "when: any does not give {coupon_title}" in str(invalid.value)


def test_an_unknown_intent(tmp_path: Path) -> None:
    with pytest.raises(RulesInvalid) as invalid:
        _load(tmp_path, "complaint_intents: [after_sales,", "complaint_intents: [refunds,")
    assert "unknown intent 'refunds'" in str(invalid.value)
