"""Helpers for the fulfilment tests: a receiver on a real port that can fail on demand and
records every request, outbox rows, viewers and a red-packet rain through the real API."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select
from starlette.types import Message, Receive, Scope, Send

from livedesk.core.clock import utcnow
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.customers.models import Customer, CustomerIdentity
from livedesk.fulfilment import outbox
from livedesk.fulfilment.models import OutboxMessage
from livedesk.fulfilment.receiver import PATH, Receiver, create_app
from support import DEMO_SECRET, free_port, serving

SECRET = DEMO_SECRET  # any whsec_ secret; the sender and the receiver share it


@dataclass(frozen=True)
class Seen:
    webhook_id: str
    body: bytes
    status: int


@dataclass
class BrandSystem:
    """The reference receiver behind a switch: while `fail_with` is set the switch answers that
    status itself (the brand's system is failing); every request is recorded, and requests in
    flight are counted per webhook-id to catch two deliveries of one row at the same time."""

    receiver: Receiver = field(default_factory=lambda: Receiver(SECRET))
    fail_with: int | None = None
    delay_s: float = 0.0
    requests: list[Seen] = field(default_factory=list)
    most_in_flight: int = 0
    _in_flight: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.app = create_app(self.receiver)

    @property
    def acknowledged(self) -> dict[str, dict[str, Any]]:
        return dict(self.receiver.messages)

    def statuses(self, webhook_id: str) -> list[int]:
        return [seen.status for seen in self.requests if seen.webhook_id == webhook_id]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        webhook_id = dict(scope["headers"]).get(b"webhook-id", b"").decode()
        self._in_flight[webhook_id] += 1
        self.most_in_flight = max(self.most_in_flight, self._in_flight[webhook_id])
        status = 0
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.fail_with is not None:
                status = self.fail_with
                await _answer(send, status, b'{"error": "brand system unavailable"}')
            else:
                status = await self._forward(scope, body, send)
        finally:
            self._in_flight[webhook_id] -= 1
            self.requests.append(Seen(webhook_id, body, status))

    async def _forward(self, scope: Scope, body: bytes, send: Send) -> int:
        sent = False
        status = 0

        async def replay() -> Message:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # no more body, ever (like an idle client)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, replay, capture)
        return status


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def serve(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """A real uvicorn serving `app` on `port` (ephemeral by default), in this event loop."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    async with serving(config):
        yield f"http://127.0.0.1:{port}{PATH}"


async def enqueue_rows(database_url: str, room_id: str, n: int) -> list[str]:
    """`n` outbox rows as the ledger writes them, committed; their webhook-ids."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            ids = [f"grant_t_{uuid.uuid4().hex[:20]}" for _ in range(n)]
            for i, webhook_id in enumerate(ids):
                outbox.enqueue(
                    session,
                    webhook_id=webhook_id,
                    kind="grant.created",
                    payload={"grant_id": webhook_id[6:], "amount_cents": 100 + i},
                    room_id=room_id,
                )
            await commit(session)
            return ids
    finally:
        await engine.dispose()


async def outbox_rows(database_url: str, room_id: str) -> list[OutboxMessage]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.room_id == room_id)
                .order_by(OutboxMessage.id)
            )
            return list(rows.scalars())
    finally:
        await engine.dispose()


async def seed_viewers(database_url: str, user_ids: list[str]) -> None:
    """Viewers known for a while (the anti-abuse rules hold brand-new accounts)."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            for user_id in user_ids:
                customer = Customer(nickname=user_id, first_seen_at=utcnow() - timedelta(hours=2))
                session.add(customer)
                await session.flush()
                session.add(
                    CustomerIdentity(
                        platform="generic", platform_user_id=user_id, customer_id=customer.id
                    )
                )
            await commit(session)
    finally:
        await engine.dispose()


def ops(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def start_rain(
    client: httpx.AsyncClient, room_id: str, token: str, *, quantity: int
) -> dict[str, Any]:
    body = {
        "kind": "rain",
        "title": "整点红包雨",
        "budget_cents": 100 * quantity,
        "quantity": quantity,
        "countdown_s": 0,
        "duration_s": 600,
        "passphrase": "老铁666",
    }
    response = await client.post(
        f"/api/v1/rooms/{room_id}/red-packets",
        json=body,
        headers={**ops(token), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data
