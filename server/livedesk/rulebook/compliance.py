"""rules/compliance.yaml: advertising-law words banned from scripts, sensitive words in comments.

《广告法》第九条 bans absolute claims (极限词: 最, 第一, 国家级 …) in advertising, and a host
reading a hint aloud is advertising. The cross-file check below reads every loaded rule file's
YAML tree and reports each template/script/text that contains a banned word, with its line.

`最` is a single character, so `allow` lists phrases that contain a banned word but make no
claim (最近, 最后): a banned word inside an allowed phrase is not reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    model_validator,
)

from livedesk.rulebook.book import CHECKS, RULE_FILES, Rulebook
from livedesk.rulebook.loader import RuleError

# Mapping keys whose string values (at any depth) are read out to viewers.
TEMPLATE_KEYS: frozenset[str] = frozenset({"template", "templates", "script", "scripts", "text"})

Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


def _alternation(words: list[str]) -> str:
    # Longest first, so that a longer phrase wins over its own prefix at the same position.
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


class ComplianceRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    banned_words: list[Word] = Field(min_length=1)
    allow: list[Word] = Field(default_factory=list)
    sensitive_words: list[Word] = Field(default_factory=list)

    # Compiled once per loaded rulebook (the model is built once at load).
    _banned: re.Pattern[str] = PrivateAttr()
    _sensitive: re.Pattern[str] | None = PrivateAttr(default=None)
    _allowed: frozenset[str] = PrivateAttr()
    # matched text (lower case) -> the word as written in the rules
    _canonical: dict[str, str] = PrivateAttr()

    @model_validator(mode="after")
    def _validate_and_compile(self) -> ComplianceRules:
        banned_lower = [w.lower() for w in self.banned_words]
        for phrase in self.allow:
            if not any(b in phrase.lower() for b in banned_lower):
                raise ValueError(f"allow: '{phrase}' contains no banned word, so it does nothing")
        # Allowed phrases are tried first at each position: a match on one hides the banned
        # word inside it; a banned word that starts earlier still wins (leftmost match).
        self._allowed = frozenset(p.lower() for p in self.allow)
        self._canonical = {w.lower(): w for w in [*self.sensitive_words, *self.banned_words]}
        pattern = _alternation(self.banned_words)
        if self.allow:
            pattern = f"{_alternation(self.allow)}|{pattern}"
        self._banned = re.compile(pattern, re.IGNORECASE)
        if self.sensitive_words:
            self._sensitive = re.compile(_alternation(self.sensitive_words), re.IGNORECASE)
        return self

    def banned_in(self, text: str) -> list[str]:
        """Banned advertising words in `text` (outside allowed phrases), each once, in order."""
        found: dict[str, None] = {}
        for match in self._banned.finditer(text):
            word = match.group(0).lower()
            if word not in self._allowed:
                found.setdefault(self._canonical.get(word, word), None)
        return list(found)

    def flag_comment(self, text: str) -> list[str]:
        """Sensitive words found in a viewer comment, each once, in order of appearance."""
        if self._sensitive is None:
            return []
        matches = self._sensitive.finditer(text)
        return list(
            dict.fromkeys(self._canonical.get(m.group(0).lower(), m.group(0)) for m in matches)
        )


def flag_comment(text: str, rules: ComplianceRules) -> list[str]:
    """Sensitive words in a comment (see ComplianceRules.flag_comment)."""
    return rules.flag_comment(text)


def _template_scalars(node: yaml.Node | None, under_template: bool = False) -> Iterator[yaml.Node]:
    """Every string scalar below a TEMPLATE_KEYS key, anywhere in the tree."""
    if isinstance(node, yaml.ScalarNode):
        if under_template and node.tag == "tag:yaml.org,2002:str":
            yield node
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _template_scalars(item, under_template)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            is_template_key = isinstance(key_node, yaml.ScalarNode) and (
                key_node.value in TEMPLATE_KEYS
            )
            yield from _template_scalars(value_node, under_template or is_template_key)


def check_templates(book: Rulebook) -> list[RuleError]:
    """Cross-file check: no banned advertising word in any template of any rule file."""
    if ComplianceRules not in book.documents:
        return []
    rules = book.get(ComplianceRules)
    errors: list[RuleError] = []
    for loaded in book.documents.values():
        for node in _template_scalars(loaded.root):
            for word in rules.banned_in(str(node.value)):
                errors.append(
                    RuleError(
                        loaded.path.name,
                        node.start_mark.line + 1,
                        f"banned advertising word '{word}' in template: {node.value!r}",
                    )
                )
    return errors


RULE_FILES["compliance.yaml"] = ComplianceRules
CHECKS.append(check_templates)
