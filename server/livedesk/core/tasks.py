"""Background loops that retry on errors but stop when told to."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any


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
