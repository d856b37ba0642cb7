from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livedesk.ingest.signing import (
    SignatureError,
    sign_douyin,
    sign_standard,
    standard_secret_key,
    verify_douyin,
    verify_standard,
)

# The Standard Webhooks reference vector (same in every official library's tests).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
BODY = b'{"test": 2432232314}'
GOLDEN = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _headers(signature: str = GOLDEN, msg_id: str = MSG_ID, ts: int | str = TS) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def _reason(exc: pytest.ExceptionInfo[SignatureError]) -> str:
    return exc.value.reason


# --- Standard Webhooks --------------------------------------------------------------------


def test_golden_vector() -> None:
    assert sign_standard(SECRET, MSG_ID, TS, BODY) == GOLDEN


def test_valid_signature() -> None:
    verify_standard(SECRET, _headers(), BODY, now_s=TS + 1)


def test_secret_without_prefix_is_raw_base64() -> None:
    bare = SECRET.removeprefix("whsec_")
    assert sign_standard(bare, MSG_ID, TS, BODY) == GOLDEN
    verify_standard(bare, _headers(), BODY, now_s=TS)


def test_header_names_are_case_insensitive() -> None:
    headers = {key.title(): value for key, value in _headers().items()}
    verify_standard(SECRET, headers, BODY, now_s=TS)


@pytest.mark.parametrize(
    ("missing", "reason"),
    [
        ("webhook-id", "missing webhook-id header"),
        ("webhook-timestamp", "missing webhook-timestamp header"),
        ("webhook-signature", "missing webhook-signature header"),
    ],
)
def test_missing_header(missing: str, reason: str) -> None:
    headers = _headers()
    del headers[missing]
    with pytest.raises(SignatureError) as exc:
        verify_standard(SECRET, headers, BODY, now_s=TS)
    assert _reason(exc) == reason


@pytest.mark.parametrize("bad_ts", ["abc", "1614265330.5", "-1614265330", "", " 1614265330"])
def test_invalid_timestamp(bad_ts: str) -> None:
    with pytest.raises(SignatureError) as exc:
        verify_standard(SECRET, _headers(ts=bad_ts), BODY, now_s=TS)
    assert "webhook-timestamp" in _reason(exc)


def test_timestamp_too_old() -> None:
    verify_standard(SECRET, _headers(), BODY, now_s=TS + 300)  # the edge is still fine
    with pytest.raises(SignatureError) as exc:
        verify_standard(SECRET, _headers(), BODY, now_s=TS + 301)
    assert _reason(exc) == "webhook-timestamp is too old"


def test_timestamp_too_new() -> None:
    verify_standard(SECRET, _headers(), BODY, now_s=TS - 300)
    with pytest.raises(SignatureError) as exc:
        verify_standard(SECRET, _headers(), BODY, now_s=TS - 301)
    assert _reason(exc) == "webhook-timestamp is too new"


def test_custom_tolerance() -> None:
    with pytest.raises(SignatureError):
        verify_standard(SECRET, _headers(), BODY, now_s=TS + 11, tolerance_s=10)


def test_wrong_secret() -> None:
    other = "whsec_" + base64.b64encode(b"another key of some length").decode()
    with pytest.raises(SignatureError) as exc:
        verify_standard(other, _headers(), BODY, now_s=TS)
    assert _reason(exc) == "no matching signature"


@pytest.mark.parametrize(
    "tampered",
    [b'{"test": 2432232315}', b'{"test":2432232314}', BODY + b" ", b""],
)
def test_tampered_body(tampered: bytes) -> None:
    with pytest.raises(SignatureError):
        verify_standard(SECRET, _headers(), tampered, now_s=TS)


def test_tampered_id_or_timestamp() -> None:
    with pytest.raises(SignatureError):
        verify_standard(SECRET, _headers(msg_id=MSG_ID + "x"), BODY, now_s=TS)
    with pytest.raises(SignatureError):
        verify_standard(SECRET, _headers(ts=TS + 1), BODY, now_s=TS)


def test_multiple_signatures_one_valid() -> None:
    other = "v1," + base64.b64encode(b"x" * 32).decode()
    signature = f"{other} v1,not-base64!! v2,{GOLDEN[3:]} {GOLDEN} {other}"
    verify_standard(SECRET, _headers(signature), BODY, now_s=TS)


def test_multiple_signatures_none_valid() -> None:
    other = "v1," + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(SignatureError):
        verify_standard(SECRET, _headers(f"{other} {other}"), BODY, now_s=TS)


def test_unknown_version_is_ignored() -> None:
    # The right digest under another version tag must not count as a v1 signature.
    with pytest.raises(SignatureError):
        verify_standard(SECRET, _headers("v2," + GOLDEN[3:]), BODY, now_s=TS)
    with pytest.raises(SignatureError):
        verify_standard(SECRET, _headers(GOLDEN[3:]), BODY, now_s=TS)


def test_invalid_secret_is_a_config_error_not_a_401() -> None:
    with pytest.raises(ValueError, match="not valid base64") as exc:
        standard_secret_key("whsec_not*base64")
    assert not isinstance(exc.value, SignatureError)


@given(
    body=st.binary(max_size=512),
    msg_id=st.text(min_size=1, max_size=40),
    key=st.binary(min_size=16, max_size=64),
)
def test_sign_then_verify_roundtrip(body: bytes, msg_id: str, key: bytes) -> None:
    secret = "whsec_" + base64.b64encode(key).decode()
    signature = sign_standard(secret, msg_id, TS, body)
    verify_standard(secret, _headers(signature, msg_id=msg_id), body, now_s=TS)
    with pytest.raises(SignatureError):
        verify_standard(secret, _headers(signature, msg_id=msg_id), body + b"!", now_s=TS)


# --- Douyin ---------------------------------------------------------------------------------

DOUYIN_HEADERS = {
    "x-nonce-str": "123456",
    "x-timestamp": "456789",
    "x-roomid": "268",
    "x-msg-type": "user_group",
}
DOUYIN_BODY = "abc123你好".encode()
DOUYIN_SECRET = "123abc"
DOUYIN_GOLDEN = "GAkalGmhzqlUGQO/TgvMug=="


def test_douyin_golden_vector() -> None:
    assert sign_douyin(DOUYIN_HEADERS, DOUYIN_BODY, DOUYIN_SECRET) == DOUYIN_GOLDEN


def test_douyin_signature_ignores_other_headers_and_case() -> None:
    headers = {key.upper(): value for key, value in DOUYIN_HEADERS.items()}
    headers |= {"Content-Type": "application/json", "X-Signature": DOUYIN_GOLDEN}
    assert sign_douyin(headers, DOUYIN_BODY, DOUYIN_SECRET) == DOUYIN_GOLDEN
    verify_douyin(headers, DOUYIN_BODY, DOUYIN_SECRET)


def test_douyin_verify_rejects_tampering() -> None:
    signed = DOUYIN_HEADERS | {"x-signature": DOUYIN_GOLDEN}
    for body, headers, secret in [
        (DOUYIN_BODY + b" ", signed, DOUYIN_SECRET),
        (DOUYIN_BODY, signed | {"x-roomid": "269"}, DOUYIN_SECRET),
        (DOUYIN_BODY, signed | {"x-msg-type": "live_gift"}, DOUYIN_SECRET),
        (DOUYIN_BODY, signed, "123abd"),
        (DOUYIN_BODY, signed | {"x-signature": "签名"}, DOUYIN_SECRET),
    ]:
        with pytest.raises(SignatureError):
            verify_douyin(headers, body, secret)


@pytest.mark.parametrize(
    "missing", ["x-signature", "x-msg-type", "x-nonce-str", "x-roomid", "x-timestamp"]
)
def test_douyin_missing_header(missing: str) -> None:
    headers = DOUYIN_HEADERS | {"x-signature": DOUYIN_GOLDEN}
    del headers[missing]
    with pytest.raises(SignatureError) as exc:
        verify_douyin(headers, DOUYIN_BODY, DOUYIN_SECRET)
    assert missing in _reason(exc)


def test_douyin_timestamp_tolerance_only_when_asked() -> None:
    now_ms = 1_700_000_000_000
    headers = DOUYIN_HEADERS | {"x-timestamp": str(now_ms - 299_000)}
    headers["x-signature"] = sign_douyin(headers, DOUYIN_BODY, DOUYIN_SECRET)
    verify_douyin(headers, DOUYIN_BODY, DOUYIN_SECRET, now_ms=now_ms)
    verify_douyin(headers, DOUYIN_BODY, DOUYIN_SECRET, now_ms=now_ms - 590_000)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_douyin(headers, DOUYIN_BODY, DOUYIN_SECRET, now_ms=now_ms + 2_000)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_douyin(headers, DOUYIN_BODY, DOUYIN_SECRET, now_ms=now_ms - 600_000)
    # Without now_ms the golden vector's tiny timestamp is fine (the platform's own example).
    verify_douyin(DOUYIN_HEADERS | {"x-signature": DOUYIN_GOLDEN}, DOUYIN_BODY, DOUYIN_SECRET)


def test_douyin_non_numeric_timestamp_with_now() -> None:
    headers = DOUYIN_HEADERS | {"x-timestamp": "soon"}
    headers["x-signature"] = sign_douyin(headers, DOUYIN_BODY, DOUYIN_SECRET)
    verify_douyin(headers, DOUYIN_BODY, DOUYIN_SECRET)
    with pytest.raises(SignatureError, match="milliseconds"):
        verify_douyin(headers, DOUYIN_BODY, DOUYIN_SECRET, now_ms=1_700_000_000_000)


def test_any_of_several_secrets_passes() -> None:
    other = "whsec_" + base64.b64encode(b"another key").decode()
    verify_standard([other, SECRET], _headers(), BODY, now_s=TS)
    verify_standard([SECRET, other], _headers(), BODY, now_s=TS)
    with pytest.raises(SignatureError):
        verify_standard([other], _headers(), BODY, now_s=TS)
    headers = DOUYIN_HEADERS | {"x-signature": DOUYIN_GOLDEN}
    verify_douyin(headers, DOUYIN_BODY, ["old-secret", DOUYIN_SECRET])
    with pytest.raises(SignatureError):
        verify_douyin(headers, DOUYIN_BODY, ["old-secret"])
