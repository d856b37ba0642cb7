"""What kind of session a session is (老客专场, 常规, 大促…): the after-stream comparison puts a
session beside the regular ones. Untagged sessions are regular."""

from __future__ import annotations

from typing import Literal

REGULAR = "regular"
# The kinds a session can be tagged with, and their labels.
SESSION_KINDS: dict[str, str] = {
    REGULAR: "常规",
    "returning_special": "老客专场",
    "big_promotion": "大促",
    "new_launch": "新品首发",
}
KindId = Literal["regular", "returning_special", "big_promotion", "new_launch"]
KIND_DESCRIPTION = (
    "regular 常规, returning_special 老客专场, big_promotion 大促, new_launch 新品首发"
)


def labelled(kind: str) -> dict[str, str]:
    """`{id, label}` as the answers carry a kind."""
    return {"id": kind, "label": SESSION_KINDS.get(kind, kind)}
