"""Background loops that retry on errors but stop when told to, and long loops that let the
event loop breathe."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

RESTART_AFTER_S = 1.0
# Items a CPU-bound loop handles between yields: ~100 comments are a few milliseconds.
YIELD_EVERY = 100


def raise_if_cancelling() -> None:
    """Re-raise a cancellation that surfaced as another error.

    A cancel that lands inside a library call can come out as that library's own error
    (SQLAlchemy reports an interrupted query as an invalid transaction). A loop that logs
    errors and retries would eat it and never stop; call this first in its `except`.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def restarting(what: str, body: Callable[[], Awaitable[None]]) -> NoReturn:
    """Run `body` (a subscription's loop, say) for ever: when it fails, log why and start it
    again a second later; only a cancel stops it."""
    while True:
        try:
            await body()
        except asyncio.CancelledError:
            raise
        except Exception:
            raise_if_cancelling()
            log.exception("%s failed; restarting", what)
        await asyncio.sleep(RESTART_AFTER_S)


async def periodically(
    what: str, interval_s: float, body: Callable[[], Awaitable[None]], *, wait_first: bool = False
) -> NoReturn:
    """Run `body` every `interval_s` for ever; a failed round is logged and the next one runs
    on time. Only a cancel stops it."""
    if wait_first:
        await asyncio.sleep(interval_s)
    while True:
        try:
            await body()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise_if_cancelling()
            log.warning("%s failed: %s", what, exc)
        await asyncio.sleep(interval_s)


async def cancel_and_wait(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Stop background loops and wait until each has finished unwinding."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def yielding(items: Iterable[T], every: int = YIELD_EVERY) -> AsyncIterator[T]:
    """Iterate, letting other tasks run every `every` items. A batch of hundreds of events
    handled in one go would hold every heartbeat, webhook ack and panel frame behind it."""
    for n, item in enumerate(items):
        if n and n % every == 0:
            await asyncio.sleep(0)
        yield item
