"""The labelled dev sets in load_tests/data/ and their fixed tuning / held-aside split.

Every file is `labels<TAB>text`, one comment or review a line (`#` lines are comments):

- `intents.tsv`      live-commerce comments; labels = intent ids joined by "," or `none`
- `fanchat.tsv`      fan chatter (slang, memes); label = sentiment pos / neu / neg; no intents
- `reviews.tsv`      product reviews; label = pos / neg
- `danmaku_sentiment.tsv`  commerce danmaku; label = sentiment pos / neu / neg

A line is *held aside* when the first byte of md5(text) is odd: about half of each file, never
looked at while choosing lexicon entries, patterns, weights or thresholds. The rest is the
*tuning* part. See docs/sentiment.md for how the sets were written and labelled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DATA = Path(__file__).with_name("data")
Split = Literal["tune", "held"]


@dataclass(frozen=True)
class Row:
    labels: tuple[str, ...]
    text: str

    @property
    def label(self) -> str:
        return self.labels[0]


def split_of(text: str) -> Split:
    """The fixed split: held aside when md5(text)'s first byte is odd."""
    return "held" if hashlib.md5(text.encode("utf-8")).digest()[0] % 2 else "tune"


def load(name: str, split: Split | None = None) -> list[Row]:
    """Rows of load_tests/data/<name>.tsv, optionally one split only."""
    rows = []
    path = DATA / f"{name}.tsv"
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        labels, sep, text = line.partition("\t")
        if not sep or not text:
            raise ValueError(f"{path.name}:{number}: expected labels<TAB>text")
        if split is None or split_of(text) == split:
            rows.append(Row(tuple(labels.split(",")), text))
    return rows
