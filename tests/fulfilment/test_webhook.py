"""An outgoing webhook, without I/O: the same bytes on every attempt, Standard Webhooks headers
that the receiving side's verifier accepts, and which answers count as an acknowledgement."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
import pytest

from livedesk.fulfilment import webhook
from livedesk.ingest.signing import SignatureError, verify_standard
from support import DEMO_SECRET

CREATED = datetime(2026, 11, 22, 20, 1, 2, 345678, tzinfo=UTC)
PAYLOAD = {"grant_id": "rp_abc", "amount_cents": 500, "title": "整点红包雨"}


def test_the_body_is_a_standard_webhooks_envelope_built_only_from_the_row():
    body = webhook.encode("grant.created", CREATED, PAYLOAD)
    assert body == webhook.encode("grant.created", CREATED, dict(PAYLOAD))  # every retry
    assert orjson.loads(body) == {
        "type": "grant.created",
        "timestamp": "2026-11-22T20:01:02.345678+00:00",
        "data": PAYLOAD,
    }


def test_headers_verify_on_the_receiving_side_and_carry_the_rows_id():
    body = webhook.encode("grant.created", CREATED, PAYLOAD)
    now = int(time.time())
    headers = webhook.request_headers(DEMO_SECRET, "grant_rp_abc", body, now)
    assert headers["webhook-id"] == "grant_rp_abc"
    assert headers["webhook-timestamp"] == str(now)
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"
    verify_standard(DEMO_SECRET, headers, body, now_s=now)

    later = webhook.request_headers(DEMO_SECRET, "grant_rp_abc", body, now + 60)
    assert later["webhook-id"] == headers["webhook-id"]  # a retry is the same message
    assert later["webhook-signature"] != headers["webhook-signature"]  # signed afresh
    with pytest.raises(SignatureError):
        verify_standard(DEMO_SECRET, headers, body.replace(b"500", b"900"), now_s=now)


def test_the_reference_test_vector_of_standard_webhooks():
    headers = webhook.request_headers(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        b'{"test": 2432232314}',
        1614265330,
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize(
    ("status", "acknowledged"),
    [
        *[(status, True) for status in (200, 202, 204, 299)],
        *[(status, False) for status in (199, 301, 307, 400, 409, 503)],
    ],
)
def test_only_a_2xx_acknowledges(status, acknowledged):
    assert webhook.accepted(status) is acknowledged


def test_errors_say_why_and_fit_the_column():
    assert webhook.status_error(503, b"  busy \n") == "HTTP 503: busy"
    assert webhook.status_error(500, b"") == "HTTP 500"
    assert webhook.exception_error(ConnectionRefusedError("refused")) == (
        "ConnectionRefusedError: refused"
    )
    long = webhook.status_error(502, "坏".encode() * 600)
    assert len(long) == webhook.MAX_ERROR_CHARS and long.endswith("…")
    # A cut multi-byte character does not break decoding.
    assert webhook.status_error(500, "坏".encode()[:2]).startswith("HTTP 500")
