"""Fixtures for the danmaku analysis tests: the real rules/lexicon.yaml and the dev set."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from livedesk.analysis.intents import IntentMatcher
from livedesk.rulebook.lexicon import LexiconRules
from livedesk.rulebook.loader import load_document

REPO = Path(__file__).resolve().parents[2]
DEVSET = REPO / "load_tests" / "sentiment_devset.tsv"


def split_of(text: str) -> str:
    """The fixed dev/test split of the dev set (same rule as load_tests/bench_sentiment.py)."""
    return "test" if hashlib.md5(text.encode("utf-8")).digest()[0] % 2 else "dev"


def devset_rows(split: str | None = None) -> list[tuple[str, str]]:
    rows = []
    for line in DEVSET.read_text(encoding="utf-8").splitlines():
        label, text = line.split("\t", 1)
        if split is None or split_of(text) == split:
            rows.append((label, text))
    return rows


@pytest.fixture(scope="session")
def held_out_rows() -> list[tuple[str, str]]:
    """(label, text) of the test half of the dev set: never used to tune anything."""
    return devset_rows("test")


@pytest.fixture(scope="session")
def lexicon_rules() -> LexiconRules:
    model = load_document(REPO / "rules" / "lexicon.yaml", LexiconRules).model
    assert isinstance(model, LexiconRules)
    return model


@pytest.fixture(scope="session")
def matcher(lexicon_rules: LexiconRules) -> IntentMatcher:
    return IntentMatcher(lexicon_rules)
