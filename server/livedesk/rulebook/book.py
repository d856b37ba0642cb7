"""The rulebook: every file in rules/, validated together, then checked across files.

Each domain's schema module declares its files in `RULE_FILES`; cross-file checks (compliance
of every template, SKUs that exist) are functions in `CHECKS` that return errors with lines.

A rulebook is built from the files' texts, read from a directory or from a stored version (see
`versions`), and is identified by the hash of those texts; its label is a name for people
("双11 第二场"): the apply command's `--label`, else `label:` in the directory's optional
manifest.yaml, else the directory's name and the hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from livedesk.rulebook.loader import (
    LoadedDocument,
    RuleError,
    RulesInvalid,
    parse_document,
    read_text,
)

Model = TypeVar("Model", bound=BaseModel)

# file name in rules/ -> schema; each domain adds its own line.
RULE_FILES: dict[str, type[BaseModel]] = {}
MANIFEST = "manifest.yaml"
HASH_SHOWN = 12  # characters of the content hash shown to people (and carried by decisions)

RuleFiles = dict[str, str]  # file name -> its text, exactly as written


@dataclass(frozen=True)
class Rulebook:
    directory: Path | None  # where it was read from; None for a stored version
    documents: dict[type[BaseModel], LoadedDocument]
    files: RuleFiles = field(default_factory=dict, repr=False)
    content_hash: str = ""
    label: str = ""

    @property
    def version(self) -> str:
        """The short content hash: what grants, hints and the review name the rules by."""
        return self.content_hash[:HASH_SHOWN]

    def get(self, schema: type[Model]) -> Model:
        model = self.document(schema).model
        assert isinstance(model, schema)
        return model

    def document(self, schema: type[BaseModel]) -> LoadedDocument:
        document = self.documents.get(schema)
        if document is None:
            raise DocumentMissing(schema.__name__)
        return document


class DocumentMissing(LookupError):
    """A check asked for a file that did not load (its own errors are reported already)."""


Check = Callable[[Rulebook], list[RuleError]]
CHECKS: list[Check] = []


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=80)


def content_hash(files: Mapping[str, str]) -> str:
    """sha256 over the rule files' names and texts (not the manifest: a label is not a rule)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        if name == MANIFEST:
            continue
        encoded = files[name].encode("utf-8")
        digest.update(f"{name}\n{len(encoded)}\n".encode())
        digest.update(encoded)
    return digest.hexdigest()


def read_rule_files(directory: Path) -> tuple[RuleFiles, str | None]:
    """The rule files' texts and the manifest's label, if any; every unreadable file reported."""
    _register_domains()
    if not directory.is_dir():
        raise RulesInvalid([RuleError(str(directory), 1, "rules directory does not exist")])
    errors: list[RuleError] = []
    files: RuleFiles = {}
    for file_name in RULE_FILES:
        try:
            files[file_name] = read_text(directory / file_name)
        except RulesInvalid as exc:
            errors.extend(exc.errors)
    label = None
    if (directory / MANIFEST).exists():
        try:
            manifest = parse_document(MANIFEST, read_text(directory / MANIFEST), Manifest)
            label = manifest.model.label if isinstance(manifest.model, Manifest) else None
        except RulesInvalid as exc:
            errors.extend(exc.errors)
    if errors:
        raise RulesInvalid(errors)
    return files, label


def load_rulebook(directory: Path, *, label: str | None = None) -> Rulebook:
    """Read and load every rule file; raise RulesInvalid with all errors of all files at once."""
    files, manifest_label = read_rule_files(directory)
    chosen = label or manifest_label or f"{directory.resolve().name} {content_hash(files)[:8]}"
    return build_rulebook(files, label=chosen, directory=directory)


def build_rulebook(
    files: Mapping[str, str], *, label: str, directory: Path | None = None
) -> Rulebook:
    """Validate the files' texts, each and then across files; RulesInvalid lists every error."""
    _register_domains()
    errors: list[RuleError] = []
    documents: dict[type[BaseModel], LoadedDocument] = {}
    for file_name, schema in RULE_FILES.items():
        text = files.get(file_name)
        if text is None:
            errors.append(RuleError(file_name, 1, "file is missing"))
            continue
        try:
            documents[schema] = parse_document(file_name, text, schema)
        except RulesInvalid as exc:
            errors.extend(exc.errors)
    kept = {name: files[name] for name in RULE_FILES if name in files}
    book = Rulebook(directory, documents, kept, content_hash(kept), label)
    # Cross-file checks run on whatever loaded, so one pass reports every error it can.
    for check in CHECKS:
        try:
            errors.extend(check(book))
        except DocumentMissing:
            continue
    if errors:
        raise RulesInvalid(errors)
    return book


def _register_domains() -> None:
    # Importing the schema modules fills RULE_FILES and CHECKS (kept here so the order is explicit).
    from livedesk.rulebook import schemas  # noqa: F401
