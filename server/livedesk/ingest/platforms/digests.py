"""Hex digests the platforms sign with, compared in constant time against every secret.

md5 and sha1 are the platforms' choices, not ours: they are what the platforms send.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

from livedesk.ingest.signing import SignatureError


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha1_hex(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def check_hex(
    given: str | None, header: str, secrets: Sequence[str], expected: Callable[[str], str]
) -> None:
    """Raise `SignatureError` unless `given` equals `expected(secret)` for one of `secrets`
    (hex compared case-insensitively)."""
    if not given:
        raise SignatureError(f"missing {header}", "signature_missing")
    candidate = given.strip().lower().encode()
    for secret in secrets:
        if hmac.compare_digest(candidate, expected(secret).lower().encode()):
            return
    raise SignatureError(f"{header} does not match")
