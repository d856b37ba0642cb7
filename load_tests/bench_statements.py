"""Statements per pipeline batch on PostgreSQL: a figure that does not move with the machine.

    .venv/bin/python load_tests/bench_statements.py --batch 75

Feeds the simulator's stream-night mix into one room of a throwaway database, processes it in
batches of `--batch` events (75 is what a 2-worker server takes per batch at 1,000 events/s),
and counts every statement the pipeline sends after a warm-up, by statement text. Each batch
covers 100 ms of the stream; `--warm-up 600` counts in a room that has been live for a minute
(its rolling windows full of that minute's users), as on a stream night.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter

from rich.console import Console
from rich.table import Table
from sqlalchemy import event as sa_event

from harness import REPO, pg_database
from livedesk.analysis.sentiment import SentimentEngine
from livedesk.core.bus import MemoryBus
from livedesk.core.db import create_engine, session_factory
from livedesk.core.migrations import upgrade
from livedesk.ingest import repository
from livedesk.ingest.schemas import parse_batch
from livedesk.pipeline import Pipeline
from livedesk.rulebook.book import load_rulebook
from livedesk.simulator.session import SessionSimulator
from livedesk.stages import RoomStages


async def count(batch: int, batches: int, warm_up: int) -> tuple[Counter[str], float, float]:
    async with pg_database("stmts") as url:
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        statements: Counter[str] = Counter()
        counting = False  # only while the pipeline runs, not while the test feeds the inbox

        @sa_event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _count(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
            if counting:
                statements[" ".join(statement.split())] += 1

        sessions = session_factory(engine)
        sentiment = SentimentEngine()
        await sentiment.start()
        stages = RoomStages(load_rulebook(REPO / "rules"), sentiment)
        pipeline = Pipeline(sessions, MemoryBus(), stages, batch_size=batch)
        simulator = SessionSimulator("statements", seed=1)
        now_ms, busy_s, cpu_s = int(time.time() * 1000), 0.0, 0.0
        try:
            for n in range(warm_up + batches):
                events, _rejected = parse_batch(
                    {"events": simulator.next_batch(batch, now_ms + n * 100, span_ms=100)}
                )
                async with sessions() as session:
                    await repository.store_events(
                        session, "generic", [e.to_record() for e in events]
                    )
                    await session.commit()
                counting = n >= warm_up
                started, started_cpu = time.perf_counter(), time.process_time()
                await pipeline.process_room("statements")
                if counting:
                    busy_s += time.perf_counter() - started
                    cpu_s += time.process_time() - started_cpu
                counting = False
        finally:
            await pipeline.close()
            await sentiment.close()
            await engine.dispose()
        return statements, busy_s / batches, cpu_s / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=75, help="events per batch")
    parser.add_argument("--batches", type=int, default=30, help="batches counted")
    parser.add_argument("--warm-up", type=int, default=30, help="batches before counting")
    parser.add_argument("--top", type=int, default=12, help="statements listed")
    args = parser.parse_args()
    statements, batch_s, cpu_s = asyncio.run(count(args.batch, args.batches, args.warm_up))
    total = sum(statements.values())
    console = Console()
    console.print(
        f"{total / args.batches:.1f} statements per batch of {args.batch} events "
        f"({total / args.batches / args.batch:.2f} per event); "
        f"{batch_s * 1000:.1f} ms per batch on this machine, one process, nothing else running; "
        f"of which {cpu_s * 1000:.1f} ms CPU in this process (Python; PostgreSQL's share not "
        "counted), a figure that moves less with the machine's load"
    )
    table = Table("per batch", "statement")
    for text, n in statements.most_common(args.top):
        table.add_row(f"{n / args.batches:.2f}", text[:100])
    console.print(table)


if __name__ == "__main__":
    main()
