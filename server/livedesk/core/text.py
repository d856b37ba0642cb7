"""What text livedesk stores, one rule for both backends, applied where input comes in.

PostgreSQL's `text` and `jsonb` cannot hold a NUL character (U+0000) and asyncpg cannot encode
an unpaired surrogate (JSON may spell one, `"\\ud800"`); SQLite would store both. Stripping
would quietly merge ids that differ only by one (`a\\u0000b` and `ab`), so input carrying one
is refused instead: a webhook event alone (its batch still stored), an operators' request with
a 422, each naming the field.
"""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _why(text: str) -> str | None:
    match = _UNSTORABLE.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return "contains a NUL character (U+0000), which livedesk does not store"
    return "contains an unpaired surrogate (not valid Unicode), which livedesk does not store"


def unstorable(value: object, path: str = "") -> str | None:
    """`field.path: why` for the first string (or object key) in decoded JSON that cannot be
    stored, or None when all can. Lists show as `items[0]`."""
    if isinstance(value, str):
        why = _why(value)
        return f"{path}: {why}" if why and path else why
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (why := _why(key)):
                return f"{path or 'object'}: a key {why}"
            if found := unstorable(item, where):
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if found := unstorable(item, f"{path}[{index}]"):
                return found
    return None
