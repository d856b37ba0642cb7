"""SQLite's writers' turn: webhook inserts first, FIFO otherwise, cancellation-safe; and the
turn actually serializes a read-then-write of the room row on a real SQLite file."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from livedesk.core.db import create_engine, session_factory
from livedesk.core.sqlite import WriterTurn, take_write_turn


async def test_urgent_waiters_go_first_then_arrival_order() -> None:
    turn = WriterTurn()
    await turn.acquire()
    order: list[str] = []

    async def wait(name: str, urgent: bool) -> None:
        await turn.acquire(urgent=urgent)
        order.append(name)
        turn.release()

    tasks = []
    for name, urgent in [("p1", False), ("p2", False), ("w1", True), ("p3", False), ("w2", True)]:
        tasks.append(asyncio.create_task(wait(name, urgent)))
        await asyncio.sleep(0)
    turn.release()
    await asyncio.gather(*tasks)
    assert order == ["w1", "w2", "p1", "p2", "p3"]


async def test_a_cancelled_waiter_neither_keeps_nor_loses_the_turn() -> None:
    turn = WriterTurn()
    await turn.acquire()
    cancelled = asyncio.create_task(turn.acquire())
    await asyncio.sleep(0)
    turn.release()  # handed to the waiter ...
    cancelled.cancel()  # ... which is cancelled before it runs: it must pass the turn on
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.wait_for(turn.acquire(), 1)  # free again
    gone = asyncio.create_task(turn.acquire())
    await asyncio.sleep(0)
    gone.cancel()  # cancelled while still queued
    with pytest.raises(asyncio.CancelledError):
        await gone
    turn.release()
    await asyncio.wait_for(turn.acquire(), 1)


async def test_the_turn_serializes_read_then_write(tmp_path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'turn.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE counter (n INTEGER)"))
            await connection.execute(text("INSERT INTO counter VALUES (0)"))
        sessions = session_factory(engine)

        async def bump() -> None:
            async with sessions() as session:
                await take_write_turn(session)
                n = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
                await asyncio.sleep(0.001)  # let the others read, were they not waiting
                await session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
                await session.commit()

        await asyncio.gather(*(bump() for _ in range(30)))
        async with sessions() as session:
            assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 30
    finally:
        await engine.dispose()
