"""rules/compliance.yaml: advertising-law words banned from what the host reads, sensitive
words in comments.

《广告法》第九条 bans absolute claims (极限词: 最, 第一, 国家级 …) in advertising, and a host
reading a hint, a greeting, a product card or a campaign title aloud is advertising. The
cross-file check below reads every loaded rule file's YAML tree and reports each string the
host reads that contains a banned word, with its line; the operators' API checks what ops type
(hints, campaign titles, passphrases) with the same `banned_in`.

Matching sees through the usual disguises (full-width, traditional characters, separators inside
a word, pinyin: see `folding`). `最` is a single character, so `allow` lists phrases that
contain a banned word but make no claim (最近, 最后): a banned word inside an allowed phrase is
not reported.
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

from livedesk.core.errors import ApiError
from livedesk.rulebook.book import CHECKS, RULE_FILES, Rulebook
from livedesk.rulebook.folding import fold, word_pattern
from livedesk.rulebook.loader import RuleError

# Mapping keys whose string values (at any depth) the host reads out, in every rule file ...
READ_ALOUD_KEYS: frozenset[str] = frozenset(
    {"template", "templates", "script", "scripts", "text", "talking_points", "fallback_nickname"}
)
# ... and in one file only (a `name` or a `label` elsewhere is not on the host's screen).
READ_ALOUD_IN_FILE: dict[str, frozenset[str]] = {
    "products.yaml": frozenset({"name"}),  # the product card
    "red_packets.yaml": frozenset({"title", "passphrase", "keyword"}),
    "coupons.yaml": frozenset({"title"}),
    "tiers.yaml": frozenset({"label"}),  # {tier_label} in greetings
}

Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


def _alternation(words: list[str], prefix: str) -> tuple[str, dict[str, str]]:
    """One named group per word, longest first (a longer phrase wins over its own prefix at the
    same position); returns the pattern and group name -> word."""
    ordered = sorted(set(words), key=lambda w: (-len(fold(w)), w))
    names = {f"{prefix}{n}": word for n, word in enumerate(ordered)}
    return "|".join(f"(?P<{name}>{word_pattern(w)})" for name, w in names.items()), names


class ComplianceRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    banned_words: list[Word] = Field(min_length=1)
    allow: list[Word] = Field(default_factory=list)
    sensitive_words: list[Word] = Field(default_factory=list)

    # Compiled once per loaded rulebook (the model is built once at load).
    _banned: re.Pattern[str] = PrivateAttr()
    _banned_names: dict[str, str] = PrivateAttr()
    _sensitive: re.Pattern[str] | None = PrivateAttr(default=None)
    # matched text (lower case) -> the sensitive word as written in the rules
    _canonical: dict[str, str] = PrivateAttr()

    @model_validator(mode="after")
    def _validate_and_compile(self) -> ComplianceRules:
        for word in [*self.banned_words, *self.allow]:
            if not fold(word):
                raise ValueError(f"'{word}' is only spaces and punctuation, so it matches nothing")
        banned, self._banned_names = _alternation(self.banned_words, "b")
        only_banned = re.compile(banned)
        for phrase in self.allow:
            if not only_banned.search(fold(phrase)):
                raise ValueError(f"allow: '{phrase}' contains no banned word, so it does nothing")
        # Allowed phrases are tried first at each position: a match on one hides the banned
        # word inside it; a banned word that starts earlier still wins (leftmost match).
        allowed, _names = _alternation(self.allow, "a")
        self._banned = re.compile(f"{allowed}|{banned}" if self.allow else banned)
        self._canonical = {w.lower(): w for w in self.sensitive_words}
        if self.sensitive_words:
            words = sorted(set(self.sensitive_words), key=lambda w: (-len(w), w))
            self._sensitive = re.compile("|".join(map(re.escape, words)), re.IGNORECASE)
        return self

    def banned_in(self, text: str) -> list[str]:
        """Banned advertising words in `text` (outside allowed phrases, seen through the usual
        disguises), each once, in order, as written in the rules."""
        found: dict[str, None] = {}
        for match in self._banned.finditer(fold(text)):
            word = self._banned_names.get(match.lastgroup or "")
            if word is not None:
                found.setdefault(word, None)
        return list(found)

    def banned_in_fields(self, **texts: str | None) -> dict[str, list[str]]:
        """Banned words per named text (the ones that have any), for an API's 422."""
        found = {name: self.banned_in(text) for name, text in texts.items() if text}
        return {name: words for name, words in found.items() if words}

    def flag_comment(self, text: str) -> list[str]:
        """Sensitive words found in a viewer comment, each once, in order of appearance."""
        if self._sensitive is None:
            return []
        matches = self._sensitive.finditer(text)
        return list(
            dict.fromkeys(self._canonical.get(m.group(0).lower(), m.group(0)) for m in matches)
        )


# How a 422 names the fields ops typed, in the console's language.
FIELD_LABELS = {"text": "提示", "title": "标题", "passphrase": "口令", "keyword": "关键词"}


def ensure_compliant(rules: ComplianceRules, **texts: str | None) -> None:
    """Raise a 422 naming every banned word in the texts ops typed (hint, title, passphrase …)
    that the host will read out; the body lists them as `banned`, and per field as `fields`."""
    found = rules.banned_in_fields(**texts)
    if not found:
        return
    words = list(dict.fromkeys(word for per_field in found.values() for word in per_field))
    where = "；".join(f"{FIELD_LABELS.get(f, f)}：{'、'.join(ws)}" for f, ws in found.items())
    raise ApiError(422, f"含广告法禁用词（{where}）", banned=words, fields=found)


def flag_comment(text: str, rules: ComplianceRules) -> list[str]:
    """Sensitive words in a comment (see ComplianceRules.flag_comment)."""
    return rules.flag_comment(text)


def _read_aloud_scalars(
    node: yaml.Node | None, keys: frozenset[str], under_key: str | None = None
) -> Iterator[tuple[str, yaml.Node]]:
    """(key, node) for every string scalar below one of `keys`, anywhere in the tree."""
    if isinstance(node, yaml.ScalarNode):
        if under_key is not None and node.tag == "tag:yaml.org,2002:str":
            yield under_key, node
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _read_aloud_scalars(item, keys, under_key)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            inner = key if key in keys else under_key
            yield from _read_aloud_scalars(value_node, keys, inner)


def check_read_aloud(book: Rulebook) -> list[RuleError]:
    """Cross-file check: no banned advertising word in anything the host reads, in any file."""
    if ComplianceRules not in book.documents:
        return []
    rules = book.get(ComplianceRules)
    errors: list[RuleError] = []
    for loaded in book.documents.values():
        keys = READ_ALOUD_KEYS | READ_ALOUD_IN_FILE.get(loaded.path.name, frozenset())
        for key, node in _read_aloud_scalars(loaded.root, keys):
            for word in rules.banned_in(str(node.value)):
                what = "template" if key in ("template", "templates") else key
                errors.append(
                    RuleError(
                        loaded.path.name,
                        node.start_mark.line + 1,
                        f"banned advertising word '{word}' in {what}: {node.value!r}",
                    )
                )
    return errors


RULE_FILES["compliance.yaml"] = ComplianceRules
CHECKS.append(check_read_aloud)
