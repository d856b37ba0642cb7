"""The reference receiver (what `make demo` runs for the brand's system) and the fulfilment
settings, in process."""

from __future__ import annotations

import time

import httpx
import pytest
from fulfilment_support import SECRET
from pydantic import ValidationError

from livedesk.core.settings import DEMO_FULFILMENT_SECRET, Settings
from livedesk.fulfilment import webhook
from livedesk.fulfilment.receiver import PATH, Receiver, create_app
from livedesk.ingest.signing import standard_secret_key


def _signed(webhook_id: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    return webhook.request_headers(secret, webhook_id, body, int(time.time()))


async def test_the_receiver_verifies_acts_once_per_id_and_acknowledges_repeats():
    receiver = Receiver(SECRET)
    transport = httpx.ASGITransport(app=create_app(receiver))
    body = b'{"type":"grant.created","timestamp":"t","data":{"grant_id":"rp_1"}}'
    async with httpx.AsyncClient(transport=transport, base_url="http://brand") as client:
        first = await client.post(PATH, content=body, headers=_signed("grant_rp_1", body))
        again = await client.post(PATH, content=body, headers=_signed("grant_rp_1", body))
        forged = await client.post(
            PATH, content=body, headers=_signed("grant_rp_2", body, "whsec_" + "QUFB" * 8)
        )
        unsigned = await client.post(PATH, content=body)
        summary = (await client.get("/")).json()
    assert first.status_code == 200 and first.json() == {"status": "accepted"}
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert forged.status_code == 401 and unsigned.status_code == 401
    assert summary["received"] == 1 and summary["duplicates"] == 1 and summary["rejected"] == 2
    assert summary["recent"][0]["webhook_id"] == "grant_rp_1"
    assert summary["recent"][0]["data"] == {"grant_id": "rp_1"}


async def test_the_receiver_remembers_a_bounded_number_of_ids():
    receiver = Receiver(SECRET, remember=3)
    transport = httpx.ASGITransport(app=create_app(receiver))
    async with httpx.AsyncClient(transport=transport, base_url="http://brand") as client:
        for n in range(5):
            body = b'{"n": %d}' % n
            assert (
                await client.post(PATH, content=body, headers=_signed(f"id{n}", body))
            ).is_success
    assert list(receiver.messages) == ["id2", "id3", "id4"]


def test_a_url_needs_a_secret_except_in_demo_mode(monkeypatch: pytest.MonkeyPatch):
    for name in ("LIVEDESK_FULFILMENT_SECRET", "LIVEDESK_DEMO_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIVEDESK_FULFILMENT_URL", "https://brand.example/hooks/livedesk")
    with pytest.raises(ValidationError, match="LIVEDESK_FULFILMENT_SECRET"):
        Settings(_env_file=None)
    monkeypatch.setenv("LIVEDESK_DEMO_MODE", "1")
    assert Settings(_env_file=None).fulfilment_signing_secret() == DEMO_FULFILMENT_SECRET
    monkeypatch.setenv("LIVEDESK_FULFILMENT_SECRET", SECRET)
    monkeypatch.setenv("LIVEDESK_FULFILMENT_MAX_ATTEMPTS", "5")
    settings = Settings(_env_file=None)
    assert settings.fulfilment_signing_secret() == SECRET
    assert settings.fulfilment_max_attempts == 5
    standard_secret_key(DEMO_FULFILMENT_SECRET)  # the demo secret is a valid whsec_ key


def test_without_a_url_nothing_is_required(monkeypatch: pytest.MonkeyPatch):
    for name in ("LIVEDESK_FULFILMENT_URL", "LIVEDESK_FULFILMENT_SECRET", "LIVEDESK_DEMO_MODE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.fulfilment_url is None and settings.fulfilment_signing_secret() is None
