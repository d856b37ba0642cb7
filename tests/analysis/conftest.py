"""Fixtures for the danmaku analysis tests: the real rules/lexicon.yaml and our dev sets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from livedesk.analysis.intents import IntentMatcher
from livedesk.rulebook.lexicon import LexiconRules
from livedesk.rulebook.loader import load_document

REPO = Path(__file__).resolve().parents[2]
# The dev sets and their fixed tuning / held-aside split live beside the benchmark that
# reports them (load_tests/devsets.py): one loader for both.
sys.path.insert(0, str(REPO / "load_tests"))


@pytest.fixture(scope="session")
def lexicon_rules() -> LexiconRules:
    model = load_document(REPO / "rules" / "lexicon.yaml", LexiconRules).model
    assert isinstance(model, LexiconRules)
    return model


@pytest.fixture(scope="session")
def matcher(lexicon_rules: LexiconRules) -> IntentMatcher:
    return IntentMatcher(lexicon_rules)
