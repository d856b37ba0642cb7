"""The rulebook: every file in rules/, validated together, then checked across files.

Each domain's schema module declares its files in `RULE_FILES`; cross-file checks (compliance
of every template, SKUs that exist) are functions in `CHECKS` that return errors with lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from livedesk.rulebook.loader import LoadedDocument, RuleError, RulesInvalid, load_document

Model = TypeVar("Model", bound=BaseModel)

# file name in rules/ -> schema; each domain adds its own line.
RULE_FILES: dict[str, type[BaseModel]] = {}


@dataclass(frozen=True)
class Rulebook:
    directory: Path
    documents: dict[type[BaseModel], LoadedDocument]

    def get(self, schema: type[Model]) -> Model:
        model = self.documents[schema].model
        assert isinstance(model, schema)
        return model

    def document(self, schema: type[BaseModel]) -> LoadedDocument:
        return self.documents[schema]


Check = Callable[[Rulebook], list[RuleError]]
CHECKS: list[Check] = []


def load_rulebook(directory: Path) -> Rulebook:
    """Load every rule file; raise RulesInvalid with all errors of all files at once."""
    _register_domains()
    errors: list[RuleError] = []
    documents: dict[type[BaseModel], LoadedDocument] = {}
    if not directory.is_dir():
        raise RulesInvalid([RuleError(str(directory), 1, "rules directory does not exist")])
    for file_name, schema in RULE_FILES.items():
        try:
            documents[schema] = load_document(directory / file_name, schema)
        except RulesInvalid as exc:
            errors.extend(exc.errors)
    if errors:
        raise RulesInvalid(errors)
    book = Rulebook(directory, documents)
    for check in CHECKS:
        errors.extend(check(book))
    if errors:
        raise RulesInvalid(errors)
    return book


def _register_domains() -> None:
    # Importing the schema modules fills RULE_FILES and CHECKS (kept here so the order is explicit).
    from livedesk.rulebook import schemas  # noqa: F401
