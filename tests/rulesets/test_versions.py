"""Rules versions: a content hash and a label per rules set, stored whole, applies in order."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from livedesk.core.db import commit, create_engine, session_factory
from livedesk.rulebook.book import MANIFEST, build_rulebook, content_hash, load_rulebook
from livedesk.rulebook.loader import RulesInvalid
from livedesk.rulebook.products import ProductRules
from livedesk.rulesets import versions
from support import REPO

RULES_DIR = REPO / "rules"


def copy_rules(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


def test_the_hash_follows_the_rule_texts_and_nothing_else(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    first = load_rulebook(rules)
    assert first.content_hash == load_rulebook(RULES_DIR).content_hash
    assert len(first.content_hash) == 64 and first.version == first.content_hash[:12]
    # A label (manifest) and a stray file are not rules: same hash.
    (rules / MANIFEST).write_text("label: 双11 第二场\n", encoding="utf-8")
    (rules / "notes.txt").write_text("whatever", encoding="utf-8")
    labelled = load_rulebook(rules)
    assert labelled.content_hash == first.content_hash
    assert labelled.label == "双11 第二场"
    assert load_rulebook(rules, label="彩排").label == "彩排"  # --label wins over the manifest
    # One character in one rule file: another hash.
    products = rules / "products.yaml"
    products.write_text(products.read_text("utf-8").replace("29900", "29800"), "utf-8")
    assert load_rulebook(rules).content_hash != first.content_hash


def test_without_a_manifest_the_label_names_the_directory_and_hash() -> None:
    book = load_rulebook(RULES_DIR)
    assert book.label == f"rules {book.content_hash[:8]}"


def test_a_bad_manifest_is_an_error_with_its_line(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    (rules / MANIFEST).write_text("# who\nlabel: ''\n", encoding="utf-8")
    with pytest.raises(RulesInvalid) as caught:
        load_rulebook(rules)
    ((file, line),) = [(e.file, e.line) for e in caught.value.errors]
    assert (file, line) == (MANIFEST, 2)


def test_built_from_texts_it_is_the_same_rulebook() -> None:
    book = load_rulebook(RULES_DIR)
    again = build_rulebook(book.files, label="x")
    assert again.content_hash == book.content_hash == content_hash(book.files)
    assert again.get(ProductRules) == book.get(ProductRules)
    missing = {k: v for k, v in book.files.items() if k != "coupons.yaml"}
    with pytest.raises(RulesInvalid, match=r"coupons\.yaml:1: file is missing"):
        build_rulebook(missing, label="x")


async def test_versions_are_stored_whole_and_applies_go_forward(
    private_database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(private_database_url)
    sessions = session_factory(engine)
    rules = copy_rules(tmp_path)
    first = load_rulebook(rules, label="日常")
    products = rules / "products.yaml"
    products.write_text(products.read_text("utf-8").replace("29900", "19900"), "utf-8")
    second = load_rulebook(rules, label="大促")
    try:
        async with sessions() as session:
            assert await versions.current(session) is None
            one = await versions.record_apply(session, first, "ops-a")
            two = await versions.record_apply(session, second, "ops-b")
            # The same content again is the same version; its first label stays.
            back = await versions.record_apply(session, load_rulebook(RULES_DIR, label="x"), "c")
            await commit(session)
        assert one.apply_id < two.apply_id < back.apply_id
        assert (back.version_hash, back.label) == (first.content_hash, "日常")
        async with sessions() as session:
            now = await versions.current(session)
            assert now == back
            old = await versions.load(session, second.content_hash)
            assert old.label == "大促" and old.files == second.files
            assert old.get(ProductRules).products[0].price_cents == 19900
            found = await versions.find(session, second.version)
            assert found is not None and found.hash == second.content_hash
            assert await versions.find(session, second.version[:4]) is None  # too short
            listed = await versions.history(session)
        applies = {v.hash: [a.applied_by for a in applied] for v, applied in listed}
        assert applies == {first.content_hash: ["ops-a", "c"], second.content_hash: ["ops-b"]}
    finally:
        await engine.dispose()
