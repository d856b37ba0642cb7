"""One canonical form for danmaku text, so caches, repeats and keyword matching agree."""

from __future__ import annotations

import re
import unicodedata

# A character repeated 4+ times keeps 3 (哈哈哈哈哈 → 哈哈哈, 66666666 → 666): the count carries
# no meaning for us, and it makes the flood variants one cache key.
_CHAR_RUN = re.compile(r"(.)\1{3,}", re.DOTALL)
# A 2–4 character unit repeated 3+ times keeps 2 (好看好看好看好看 → 好看好看,
# [赞][赞][赞] → [赞][赞]).
_UNIT_RUN = re.compile(r"(.{2,4}?)\1{2,}", re.DOTALL)


def normalize_text(text: str) -> str:
    """Return the canonical form of a comment.

    Steps, in order: Unicode NFKC (full-width ？６６６ → ?666, compatibility forms folded),
    strip, casefold (YYDS → yyds), collapse every whitespace run to one space, then collapse long
    repeats: one character 4+ times → 3, a 2–4 character unit 3+ times → 2.
    Idempotent: normalize_text(normalize_text(s)) == normalize_text(s).
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = " ".join(text.split())
    # Either repeat needs at least three repeated characters (4 × 哈 has 3 repeats, 好看 × 3 has
    # 4): most comments have fewer, and skip the two regexes (most of this function's cost).
    if len(set(text)) > len(text) - 3:
        return text
    text = _CHAR_RUN.sub(r"\1\1\1", text)
    return _UNIT_RUN.sub(r"\1\1", text)
