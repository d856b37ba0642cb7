"""Background loops that retry on errors but stop when told to, and long loops that let the
event loop breathe."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

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
