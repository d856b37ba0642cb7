"""The one rule for text livedesk stores (core.text): what it finds and how it names it."""

from __future__ import annotations

from livedesk.core.text import unstorable


def test_clean_values_pass() -> None:
    assert unstorable({"a": ["好", {"b": "c"}], "n": 1, "t": True, "z": None}) is None


def test_a_nul_is_named_by_its_path() -> None:
    found = unstorable({"order": {"items": [{"sku": "ok"}, {"sku": "x\x00"}]}})
    assert found == (
        "order.items[1].sku: contains a NUL character (U+0000), which livedesk does not store"
    )
    assert unstorable("a\x00", "body") == (
        "body: contains a NUL character (U+0000), which livedesk does not store"
    )


def test_unpaired_surrogates_and_keys_are_refused_too() -> None:
    assert (unstorable({"text": "\ud83d"}) or "").startswith("text: contains an unpaired")
    assert (unstorable({"user": {"k\x00": 1}}) or "").startswith("user: a key contains a NUL")
    assert unstorable({"emoji": "\U0001f600"}) is None  # a paired one is a real character
