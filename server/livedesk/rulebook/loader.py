"""YAML rule files → validated pydantic models, with every error pointing at a file and line.

A brand edits these files by hand on stream day; an error that says "tiers.yaml:14: min_spend_cents:
Input should be a valid integer" is the difference between a fix and a support call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)
Loc = Sequence[int | str]


@dataclass(frozen=True)
class RuleError:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class RulesInvalid(Exception):
    """Raised with every error found, not just the first."""

    def __init__(self, errors: Sequence[RuleError]):
        self.errors = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


@dataclass(frozen=True)
class LoadedDocument:
    """A validated rule file and the YAML tree it came from, to locate things later."""

    path: Path
    model: BaseModel
    root: yaml.Node | None

    def line_of(self, loc: Loc) -> int:
        return line_of(self.root, loc)

    def error(self, loc: Loc, message: str) -> RuleError:
        return RuleError(self.path.name, self.line_of(loc), message)


def line_of(root: yaml.Node | None, loc: Loc) -> int:
    """1-based line of the deepest node along `loc` that exists (the file's first line if none)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else 1
    for key in loc:
        child = _child(node, key)
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node | None, key: int | str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key or key_node.value == str(key):
                return value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        child: yaml.Node = node.value[key]
        return child
    return None


def load_document(path: Path, schema: type[Model]) -> LoadedDocument:
    """Read, parse and validate one file; raise RulesInvalid listing every problem with its line."""
    return parse_document(path.name, read_text(path), schema)


def read_text(path: Path) -> str:
    name = path.name
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesInvalid([RuleError(name, 1, "file is missing")]) from None
    except UnicodeDecodeError as exc:
        raise RulesInvalid([RuleError(name, 1, f"not UTF-8: {exc}")]) from None


def parse_document(name: str, text: str, schema: type[Model]) -> LoadedDocument:
    """Parse and validate one file's text (read from rules/ or from a stored version)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise RulesInvalid([RuleError(name, line, f"YAML syntax: {exc.problem}")]) from None
    try:
        model = schema.model_validate(data if data is not None else {})
    except ValidationError as exc:
        errors = [
            RuleError(
                name,
                line_of(root, err["loc"]),
                f"{'.'.join(map(str, err['loc'])) or '(top)'}: {err['msg']}",
            )
            for err in exc.errors()
        ]
        raise RulesInvalid(errors) from None
    return LoadedDocument(Path(name), model, root)
