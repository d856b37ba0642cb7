"""Folding text for the 广告法 check: the usual disguises of a banned word, undone.

A script, a product card or a campaign title can hide 最好 as ＺＵＩ好 (full-width), 國家級
(traditional), 绝 对 or 绝*对 (a separator inside the word) or zui好 / di yi (pinyin). The text
and the banned words are folded the same way, then matched:

- NFKC (full-width letters and digits become ASCII), tone marks dropped, case folded;
- traditional characters become simplified (OpenCC's t2s tables, shipped in its wheel);
- whitespace, punctuation, symbols and invisible characters are dropped, except the few that
  are part of a word (`%` of 100%: without it, 100元 would read as 100%);
- a run of Latin letters that spells pinyin syllables becomes those syllables, each between
  markers (zuihao → ‹zui›‹hao›), so that a word's pattern accepts either a character or its
  reading, and only whole syllables: weiyin is wei·yin, not 唯一 (wei·yi).

Han characters are never turned into pinyin: 价格再低一点 reads di yi too, but it is no 第一.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import opencc
from pypinyin import Style, lazy_pinyin
from pypinyin.pinyin_dict import pinyin_dict

# Kept although they are punctuation or symbols: they carry the meaning of a banned word.
KEPT = frozenset("%")
# Around a pinyin syllable in folded text. Control characters: folding drops every one that is
# in the input, so these can only come from folding.
OPEN, CLOSE = "\x02", "\x03"

_LATIN_RUN = re.compile(r"[a-z]+")
_MAX_SYLLABLE = 6  # zhuang, shuang


@cache
def _to_simplified() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@cache
def syllables() -> frozenset[str]:
    """Every toneless pinyin syllable (from pypinyin's dictionary), ü spelled both u and v."""
    found: set[str] = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            plain = _strip_tones(reading).replace("ü", "v")
            if any(vowel in plain for vowel in "aeiouv"):  # not the interjections hm, ng, n
                found.update({plain, plain.replace("v", "u")})
    return frozenset(found)


def _strip_tones(reading: str) -> str:
    # Every combining mark but the diaeresis of ü (lǜ is lü, spelled lv or lu).
    decomposed = unicodedata.normalize("NFKD", reading)
    return unicodedata.normalize(
        "NFC", "".join(ch for ch in decomposed if ch == "\u0308" or not unicodedata.combining(ch))
    )


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize(
        "NFC", "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    )


def _is_separator(ch: str) -> bool:
    # Z: spaces, P: punctuation, S: symbols and emoji, C: control, format (zero-width) …
    return unicodedata.category(ch)[0] in "ZPSC" and ch not in KEPT


@cache
def split_pinyin(run: str) -> tuple[str, ...] | None:
    """`run` as the fewest whole pinyin syllables (xian, not xi·an), or None if it is not pinyin."""
    known = syllables()
    best: list[tuple[str, ...] | None] = [()] + [None] * len(run)
    for end in range(1, len(run) + 1):
        for start in range(max(0, end - _MAX_SYLLABLE), end):
            before = best[start]
            piece = run[start:end]
            if before is not None and piece in known:
                candidate = (*before, piece)
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    return best[len(run)]


def _latin(run: str) -> str:
    parts = split_pinyin(run)
    if parts is None:
        return run  # not pinyin (an English word, a model number): kept as letters
    return "".join(f"{OPEN}{part}{CLOSE}" for part in parts)


def fold(text: str) -> str:
    """`text` with the disguises undone (see the module docstring)."""
    plain = _strip_marks(unicodedata.normalize("NFKC", text))
    plain = _to_simplified().convert(plain).casefold()
    kept = "".join(" " if _is_separator(ch) else ch for ch in plain)
    # Latin runs are split into syllables one by one (di yi is two runs); then every
    # separator goes, so that 绝 对 is 绝对.
    return _LATIN_RUN.sub(lambda m: _latin(m.group(0)), kept).replace(" ", "")


def is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\U00020000" <= ch <= "\U0002ffff"


def word_pattern(word: str) -> str:
    """A regex over folded text for `word`: each Han character of it may also be written as its
    pinyin reading (as the word is read: 传 in 祖传 is chuan)."""
    folded = fold(word)
    # Read as a phrase (pypinyin knows 祖传 is zu·chuan); a character it has no reading for
    # matches only as itself.
    readable = "".join(ch for ch in folded if is_han(ch) and ord(ch) in pinyin_dict)
    readings = iter(lazy_pinyin(readable, style=Style.NORMAL)) if readable else iter(())
    pieces: list[str] = []
    index = 0
    while index < len(folded):
        ch = folded[index]
        if ch == OPEN:  # the word itself was written in pinyin
            end = folded.index(CLOSE, index)
            pieces.append(re.escape(folded[index : end + 1]))
            index = end + 1
            continue
        if is_han(ch) and ord(ch) in pinyin_dict:
            reading = next(readings)
            spellings = {reading, reading.replace("v", "u")} & syllables()
            alternatives = [re.escape(ch)] + [f"{OPEN}{s}{CLOSE}" for s in sorted(spellings)]
            pieces.append(f"(?:{'|'.join(alternatives)})")
        else:
            pieces.append(re.escape(ch))
        index += 1
    return "".join(pieces)
