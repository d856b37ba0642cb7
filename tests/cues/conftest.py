"""Fixtures for the cue tests: the default rule files, validated the way the loader does."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import pytest
import yaml
from pydantic import BaseModel

from livedesk.rulebook.compliance import ComplianceRules
from livedesk.rulebook.cues import AlertRules, HintRules

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"

Model = TypeVar("Model", bound=BaseModel)


def load_default(file_name: str, schema: type[Model]) -> Model:
    data = yaml.safe_load((RULES_DIR / file_name).read_text(encoding="utf-8"))
    return schema.model_validate(data)


@pytest.fixture(scope="session")
def hint_rules() -> HintRules:
    return load_default("hints.yaml", HintRules)


@pytest.fixture(scope="session")
def alert_rules() -> AlertRules:
    return load_default("alerts.yaml", AlertRules)


@pytest.fixture(scope="session")
def compliance_rules() -> ComplianceRules:
    return load_default("compliance.yaml", ComplianceRules)
