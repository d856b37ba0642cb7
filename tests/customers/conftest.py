"""Fixtures for the customer decision tests: the shipped rule files, loaded as the app does."""

from __future__ import annotations

from pathlib import Path

import pytest

from livedesk.rulebook.customers import TierRules
from livedesk.rulebook.greetings import GreetingRules
from livedesk.rulebook.loader import load_document

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture(scope="session")
def tier_rules() -> TierRules:
    model = load_document(RULES_DIR / "tiers.yaml", TierRules).model
    assert isinstance(model, TierRules)
    return model


@pytest.fixture(scope="session")
def greeting_rules() -> GreetingRules:
    model = load_document(RULES_DIR / "greetings.yaml", GreetingRules).model
    assert isinstance(model, GreetingRules)
    return model
