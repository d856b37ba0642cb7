"""The sender: delivers due outbox rows as signed Standard Webhooks, at least once, never two
workers at a time, and tells the receiver which deliveries are the same (`webhook-id`).

One round, in three steps that never overlap a transaction with the network:

1. **Claim** (one short transaction): take up to `batch_size` due rows with
   `FOR UPDATE SKIP LOCKED`, count the attempt and move `next_attempt_at` one lease ahead;
   commit. Until the lease ends no other worker sees the rows as due.
2. **Send** (no transaction open): POST each row, bounded as a whole by `timeout_s` counted from
   the claim. The lease is longer than that by a margin, so an attempt is over before anyone
   else may start the next one.
3. **Record** (one short transaction per row): 2xx → delivered; anything else → the next try
   after a capped, jittered exponential delay, or dead once `max_attempts` are spent. The write
   is fenced by the attempt number, so a late answer to an old attempt changes nothing.

A crash between 1 and 3 leaves the row pending with its lease: it is tried again once the lease
ends. So a receiver may see a `webhook-id` again after it answered 2xx (the answer was lost), and
dedupes on it; livedesk never sends a row again once it has recorded a 2xx for it.

Started by the app's lifespan only when `LIVEDESK_FULFILMENT_URL` is set; without it grants stay
in the outbox, pending, and go out once a URL is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core import logs, metrics
from livedesk.core.db import commit
from livedesk.core.tasks import raise_if_cancelling
from livedesk.fulfilment import repository, webhook
from livedesk.fulfilment.repository import Claimed
from livedesk.fulfilment.retry import RetryPolicy
from livedesk.ingest.signing import standard_secret_key

log = logging.getLogger(__name__)

# How far past an attempt's own deadline its lease reaches: room for the claim's commit, a busy
# event loop and clock granularity before another worker may take the row.
LEASE_MARGIN_S = 5.0
# The backlog gauge is a count over the table: often enough for alerting, rare enough to be free.
BACKLOG_REFRESH_S = 5.0
# Enough of a failed answer's body to say why, and no more read off the wire.
ERROR_BODY_BYTES = 300


def lease_s(timeout_s: float) -> float:
    return 2 * timeout_s + LEASE_MARGIN_S


class OutboxSender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        url: str,
        secret: str,
        policy: RetryPolicy,
        timeout_s: float = 10.0,
        batch_size: int = 20,
        poll_interval_s: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
        jitter: Callable[[], float] | None = None,
    ):
        standard_secret_key(secret)  # a malformed secret stops start-up, not the first send
        self._sessions = sessions
        self._url = url
        self._secret = secret
        self._policy = policy
        self._timeout_s = timeout_s
        self._lease_s = lease_s(timeout_s)
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._jitter = jitter or random.Random().random
        self._client = httpx.AsyncClient(
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,  # a redirect is not an acknowledgement
            limits=httpx.Limits(max_connections=batch_size, max_keepalive_connections=batch_size),
        )
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._backlog_at = float("-inf")

    async def start(self) -> None:
        """Deliver in the background until `close()`."""
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def close(self) -> None:
        """Stop claiming and let the round in flight finish (its attempts are bounded by
        `timeout_s`): a shutdown (SIGTERM, a deploy) must not cut deliveries short, or each
        would sit out its whole lease before another worker may send it. Only an attempt
        still running past that bound is cancelled; it keeps its lease and is tried again."""
        if self._task is not None:
            self._stopping.set()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, self._timeout_s + 1.0)
            self._task = None
        await self._client.aclose()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            claimed = 0
            try:
                claimed = await self.run_once()
                if time.monotonic() - self._backlog_at >= BACKLOG_REFRESH_S:
                    await self.refresh_backlog()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelling()
                log.warning("outbox sender round failed, retrying: %s", exc)
            if claimed < self._batch_size:  # a full batch: there may be more due right now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._poll_interval_s)

    async def run_once(self) -> int:
        """One round: claim what is due, send it, record each outcome. Returns rows claimed."""
        async with self._sessions() as session:
            now = await repository.clock(session)
            if not await repository.any_due(session, now):
                return 0
            claims = await repository.claim_due(
                session, now, limit=self._batch_size, lease_s=self._lease_s
            )
            await commit(session)
        deadline = asyncio.get_running_loop().time() + self._timeout_s
        await asyncio.gather(*(self._attempt(claim, deadline) for claim in claims))
        return len(claims)

    async def refresh_backlog(self) -> None:
        async with self._sessions() as session:
            counts = await repository.backlog(session)
        for state, n in counts.items():
            metrics.OUTBOX_BACKLOG.labels(state).set(n)
        self._backlog_at = time.monotonic()

    async def _attempt(self, claim: Claimed, deadline: float) -> None:
        with logs.bound(claim.room_id):
            error = await self._send(claim, deadline)
            try:
                await self._record(claim, error)
            except Exception as exc:
                # The row keeps its lease and is sent again after it; the receiver dedupes.
                log.warning(
                    "could not record outbox attempt %s of %s: %s", claim.attempt, claim.id, exc
                )

    async def _send(self, claim: Claimed, deadline: float) -> str | None:
        """POST one row; None when the receiver acknowledged it, else why not."""
        body = webhook.encode(claim.kind, claim.created_at, claim.payload)
        headers = webhook.request_headers(
            self._secret, claim.webhook_id, body, timestamp_s=int(time.time())
        )
        try:
            async with asyncio.timeout_at(deadline):
                async with self._client.stream(
                    "POST", self._url, content=body, headers=headers
                ) as response:
                    if webhook.accepted(response.status_code):
                        return None
                    return webhook.status_error(response.status_code, await _head(response))
        except TimeoutError:
            return webhook.clip(f"no answer within {self._timeout_s:g} s")
        except httpx.HTTPError as exc:
            return webhook.exception_error(exc)

    async def _record(self, claim: Claimed, error: str | None) -> None:
        async with self._sessions() as session:
            now = await repository.clock(session)
            if error is None:
                await repository.mark_delivered(session, claim.id, now)
                outcome = "delivered"
            else:
                failed = self._policy.after_failure(claim.attempt, now, self._jitter())
                recorded = await repository.mark_failed(
                    session,
                    claim.id,
                    claim.attempt,
                    dead=failed.dead,
                    next_attempt_at=failed.next_attempt_at,
                    error=error,
                )
                outcome = "dead" if failed.dead and recorded else "retry"
            await commit(session)
        metrics.OUTBOX_ATTEMPTS.labels(outcome).inc()
        if outcome == "dead":
            log.warning(
                "outbox %s is dead after %d attempts: %s", claim.webhook_id, claim.attempt, error
            )
        elif error is not None:
            log.info("outbox %s attempt %d failed: %s", claim.webhook_id, claim.attempt, error)


async def _head(response: httpx.Response) -> bytes:
    """At most ERROR_BODY_BYTES of the body: a receiver's error page is not ours to buffer."""
    head = b""
    async for chunk in response.aiter_bytes():
        head += chunk
        if len(head) >= ERROR_BODY_BYTES:
            break
    return head[:ERROR_BODY_BYTES]
