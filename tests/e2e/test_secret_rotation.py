"""Secret rotation: several secrets per platform in LIVEDESK_WEBHOOK_SECRETS (old and new during
a rotation; any matching signature passes, as Standard Webhooks allows), and a value the
server cannot use stops it before it starts, with a message naming the problem — never a
plain-text 500 on every webhook, and never the secret itself in the message."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import orjson
import pytest

from livedesk.core.settings import Settings
from livedesk.ingest.signing import sign_douyin, sign_standard
from support import DEMO_SECRET, REPO, event, free_port, post_events, run_server, signed_headers

NEW_SECRET = "whsec_bmV3LWtleS1hZnRlci10aGUtcm90YXRpb24="
OTHER_SECRET = "whsec_c29tZW9uZS1lbHNlcy1rZXk="
LIVEDESK = str(Path(sys.executable).with_name("livedesk"))


async def test_old_and_new_secrets_both_pass_during_a_rotation(
    monkeypatch, private_database_url, room_id
):
    monkeypatch.setenv(
        "LIVEDESK_WEBHOOK_SECRETS",
        f"generic={DEMO_SECRET},generic={NEW_SECRET},douyin=dy-old,douyin=dy-new",
    )
    # Read from the environment, as a deployment sets it (not settings_for's dict).
    settings = Settings(database_url=private_database_url, rules_dir=REPO / "rules")
    async with (
        run_server(settings) as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        for secret in (DEMO_SECRET, NEW_SECRET):
            response = await post_events(client, event(room_id, "like"), secret=secret)
            assert response.status_code == 202, response.text
        refused = await post_events(client, event(room_id, "like"), secret=OTHER_SECRET)
        assert refused.status_code == 401
        # A sender signing with both during its own switch-over passes too.
        body = orjson.dumps(event(room_id, "like"))
        headers = signed_headers(body, OTHER_SECRET)
        ts = int(headers["webhook-timestamp"])
        new = sign_standard(NEW_SECRET, headers["webhook-id"], ts, body)
        headers["webhook-signature"] += f" {new}"
        response = await client.post("/api/v1/webhooks/generic", content=body, headers=headers)
        assert response.status_code == 202, response.text
        for secret, expected in (("dy-old", 202), ("dy-new", 202), ("dy-other", 401)):
            response = await _post_douyin(client, room_id, secret)
            assert response.status_code == expected, (secret, response.text)


async def _post_douyin(client: httpx.AsyncClient, room_id: str, secret: str) -> httpx.Response:
    body = orjson.dumps(
        [
            {
                "msg_id": uuid.uuid4().hex,
                "sec_openid": "dy-user",
                "content": "来了",
                "timestamp": int(time.time() * 1000),
            }
        ]
    )
    headers = {
        "x-roomid": room_id,
        "x-msg-type": "live_comment",
        "x-nonce-str": uuid.uuid4().hex,
        "x-timestamp": str(int(time.time() * 1000)),
    }
    headers["x-signature"] = sign_douyin(headers, body, secret)
    return await client.post("/api/v1/webhooks/douyin", content=body, headers=headers)


@pytest.mark.slow  # a `livedesk serve` process, up to 120 s on a busy machine
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("generic", "item 1 is not platform=secret"),
        (f"generic={DEMO_SECRET},=x", "item 2: the platform must be a name"),
        ("generic=", "item 1 (generic) has an empty secret"),
        ("generic=whsec_abc", "generic's secret 1 is not a Standard Webhooks secret"),
        (f"generic={DEMO_SECRET},generic=not base64!", "generic's secret 2 is not a Standard"),
        ("shop.orders=whsec_YWJj", "shop.orders: secrets per message type are for platforms"),
    ],
)
def test_a_malformed_value_stops_the_server_before_it_starts(database_url, value, message):
    env = {
        **os.environ,
        "LIVEDESK_DATABASE_URL": database_url,
        "LIVEDESK_WEBHOOK_SECRETS": value,
    }
    port = free_port()
    server = subprocess.Popen(
        [LIVEDESK, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while server.poll() is None and time.monotonic() < deadline:
            if _answers(port):
                pytest.fail("the server started with a secret it cannot use")
            time.sleep(0.2)
    finally:
        if server.poll() is None:
            server.kill()
        _, raw_stderr = server.communicate(timeout=30)
    stderr = raw_stderr.decode()
    assert server.returncode == 2, stderr
    assert "the configuration is wrong" in stderr and message in stderr, stderr
    assert "Traceback" not in stderr
    for secret in ("whsec_abc", "not base64!", DEMO_SECRET):
        assert secret not in stderr  # a secret is never echoed


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
