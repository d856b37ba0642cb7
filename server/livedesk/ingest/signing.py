"""Webhook signatures: Standard Webhooks for the generic format, Douyin's own scheme for Douyin.

Both check the RAW request bytes, before any JSON parsing, and compare in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence

from livedesk.ingest.rejections import RequestReason

STANDARD_SECRET_PREFIX = "whsec_"
DOUYIN_SIGNED_HEADERS = ("x-msg-type", "x-nonce-str", "x-roomid", "x-timestamp")

_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_UNIX_MILLIS = re.compile(r"[0-9]{1,15}")


class SignatureError(Exception):
    """The request is not provably from the platform; answer 401 with `reason`. `kind` is the
    metric's label: a header missing, a signature that does not match, or a bad timestamp."""

    def __init__(self, reason: str, kind: RequestReason = "signature_mismatch") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    # Starlette's Headers are already case-insensitive; a plain dict (tests, replay) is not.
    return {key.lower(): value for key, value in headers.items()}


# --- Standard Webhooks (https://www.standardwebhooks.com) ----------------------------------


def standard_secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret (the prefix is optional, as in the spec libs)."""
    encoded = secret.removeprefix(STANDARD_SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        # A misconfigured secret is an operator error, not the sender's: do not answer 401.
        raise ValueError("webhook secret is not valid base64 (expected whsec_<base64>)") from exc


def _standard_digest(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign_standard(secret: str, msg_id: str, timestamp_s: int, body: bytes) -> str:
    digest = _standard_digest(standard_secret_key(secret), msg_id, str(timestamp_s), body)
    return "v1," + base64.b64encode(digest).decode()


def standard_headers(secret: str, msg_id: str, timestamp_s: int, body: bytes) -> dict[str, str]:
    """The three headers a Standard Webhooks sender adds, `verify_standard`'s counterpart."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": sign_standard(secret, msg_id, timestamp_s, body),
    }


def verify_standard(
    secrets: str | Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now_s: float,
    tolerance_s: int = 300,
) -> None:
    """Raise `SignatureError` unless one `v1` signature matches one of the secrets (several
    during a rotation: the sender may sign with the old, the new, or both) and the timestamp
    is fresh."""
    lowered = _lower_keys(headers)
    msg_id = lowered.get("webhook-id")
    timestamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not msg_id:
        raise SignatureError("missing webhook-id header", "signature_missing")
    if not timestamp:
        raise SignatureError("missing webhook-timestamp header", "signature_missing")
    if not signatures:
        raise SignatureError("missing webhook-signature header", "signature_missing")
    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise SignatureError("webhook-timestamp is not unix seconds", "timestamp_invalid")
    timestamp_s = int(timestamp)
    if timestamp_s < now_s - tolerance_s:
        raise SignatureError("webhook-timestamp is too old", "timestamp_invalid")
    if timestamp_s > now_s + tolerance_s:
        raise SignatureError("webhook-timestamp is too new", "timestamp_invalid")

    expected = [
        _standard_digest(standard_secret_key(secret), msg_id, timestamp, body)
        for secret in _listed(secrets)
    ]
    for entry in signatures.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue  # other schemes (v1a, v2, ...) are for other verifiers
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Every secret is compared, matching or not: the time taken says nothing about which.
        if sum(hmac.compare_digest(candidate, digest) for digest in expected):
            return
    raise SignatureError("no matching signature")


def _listed(secrets: str | Sequence[str]) -> Sequence[str]:
    return [secrets] if isinstance(secrets, str) else secrets


# --- Douyin live-room data push (直播间数据开放) --------------------------------------------


def sign_douyin(headers: Mapping[str, str], body: bytes, secret: str) -> str:
    """base64(md5(sorted `k=v` of the four x- headers joined by `&` + raw body + secret))."""
    lowered = _lower_keys(headers)
    pairs = []
    for name in sorted(DOUYIN_SIGNED_HEADERS):
        value = lowered.get(name)
        if value is None:
            raise SignatureError(f"missing {name} header", "signature_missing")
        pairs.append(f"{name}={value}")
    # md5 is Douyin's choice, not ours; it is what the platform sends.
    digest = hashlib.md5("&".join(pairs).encode() + body + secret.encode()).digest()
    return base64.b64encode(digest).decode()


def verify_douyin(
    headers: Mapping[str, str],
    body: bytes,
    secrets: str | Sequence[str],
    *,
    now_ms: int | None = None,
    tolerance_s: int = 300,
) -> None:
    """Raise `SignatureError` unless `x-signature` matches one of the secrets (several during
    a rotation); check `x-timestamp` when `now_ms`."""
    lowered = _lower_keys(headers)
    given = lowered.get("x-signature")
    if not given:
        raise SignatureError("missing x-signature header", "signature_missing")
    expected = [sign_douyin(lowered, body, secret) for secret in _listed(secrets)]
    if not sum(hmac.compare_digest(given.encode(), digest.encode()) for digest in expected):
        raise SignatureError("x-signature does not match")
    if now_ms is not None:
        timestamp = lowered["x-timestamp"]  # present: sign_douyin required it
        if not _UNIX_MILLIS.fullmatch(timestamp):
            raise SignatureError("x-timestamp is not unix milliseconds", "timestamp_invalid")
        if abs(now_ms - int(timestamp)) > tolerance_s * 1000:
            raise SignatureError("x-timestamp is out of tolerance", "timestamp_invalid")
