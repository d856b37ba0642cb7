"""CRM import throughput: generate an order-row CSV, import it into a fresh database, print rows/s.

    .venv/bin/python load_tests/bench_import.py [--rows 1000000] [--batch-size 1000]
    LIVEDESK_BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python load_tests/bench_import.py --backend postgres

The file (in /tmp) has one member row per member and 1–8 order lines per member, a third of
the orders with two lines, a few refunded lines and a few accounts linked by union id, like a
real export. SQLite imports into a new file under /tmp; PostgreSQL into a new database created
next to the one in LIVEDESK_BENCH_DATABASE_URL and dropped afterwards. A second pass imports
the same file again (every order a duplicate) to time an idempotent re-run.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from livedesk.core.db import create_engine, session_factory
from livedesk.core.migrations import upgrade
from livedesk.customers.csv_format import COLUMNS
from livedesk.customers.importer import import_csv

SKUS = [("SKU-CREAM-50", "抗皱面霜"), ("SKU-SERUM-AA30", "抗老精华"), ("SKU-MASK-10", "补水面膜")]


def generate(path: Path, rows: int, seed: int) -> int:
    """Write about `rows` data rows; returns how many were written."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    written = 0
    member = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        while written < rows:
            member += 1
            member_id = f"M{member:08d}"
            # Members 50k and 50k+1 share a union id: the import merges them (2 % of members).
            union = f"U{member // 50:08d}" if member % 50 in (0, 1) else ""
            phone = hashlib.sha256(f"1380000{member:05d}".encode()).hexdigest()
            user = f"dy_{member}"
            writer.writerow([member_id, f"会员{member}", phone, union, "douyin", user] + [""] * 7)
            written += 1
            for order in range(rng.randint(1, 5)):
                order_id = f"O{member:08d}-{order}"
                at = (start + timedelta(minutes=rng.randrange(900_000))).isoformat()
                for line in range(2 if rng.random() < 0.33 else 1):
                    sku, name = SKUS[(order + line) % len(SKUS)]
                    status = "refunded" if rng.random() < 0.03 else "paid"
                    amount = rng.randrange(1000, 300000)
                    writer.writerow(
                        [
                            member_id,
                            "",
                            "",
                            "",
                            "douyin",
                            user,
                            order_id,
                            at,
                            amount,
                            sku,
                            name,
                            1,
                            status,
                        ]
                    )
                    written += 1
    return written


async def database(backend: str) -> tuple[str, str | None]:
    if backend == "sqlite":
        file = Path(f"/tmp/livedesk-bench-import-{uuid.uuid4().hex[:8]}.db")
        return f"sqlite+aiosqlite:///{file}", None
    base = os.environ["LIVEDESK_BENCH_DATABASE_URL"]
    name = f"livedesk_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False), name


async def drop(name: str) -> None:
    admin = create_async_engine(
        os.environ["LIVEDESK_BENCH_DATABASE_URL"], isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


def ensure_csv(rows: int, seed: int) -> Path:
    """Generate the CSV once; later runs reuse it so they time the import alone."""
    path = Path(f"/tmp/livedesk-bench-crm-{rows}.csv")
    if not path.exists():
        began = time.perf_counter()
        written = generate(path, rows, seed)
        print(f"generated {written:,} rows ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - began:.1f}s → {path}")  # fmt: skip
    return path


def csv_read_rate(path: Path) -> float:
    """Baseline in the same run: rows/s of merely reading the file with the csv module."""
    began = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as handle:
        rows = sum(1 for _ in csv.reader(handle)) - 1
    return rows / (time.perf_counter() - began)


def remove_sqlite_files(url: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(url.removeprefix("sqlite+aiosqlite:///") + suffix).unlink(missing_ok=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    path = await asyncio.to_thread(ensure_csv, args.rows, args.seed)
    baseline = await asyncio.to_thread(csv_read_rate, path)
    print(f"baseline: csv.reader alone reads {baseline:,.0f} rows/s")
    url, pg_name = await database(args.backend)
    try:
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        for label in ("first import", "re-run (all duplicates)"):
            began = time.perf_counter()
            report = await import_csv(sessions, path, batch_size=args.batch_size)
            elapsed = time.perf_counter() - began
            print(
                f"{args.backend} {label}: {report.rows:,} rows in {elapsed:.1f}s = "
                f"{report.rows / elapsed:,.0f} rows/s "
                f"({report.rows / elapsed / baseline:.3f}× csv.reader); "
                f"members {report.imported_members:,}, "
                f"orders {report.imported_orders:,}, duplicates {report.skipped_duplicates:,}, "
                f"errors {report.error_count}"
            )
        await engine.dispose()
    finally:
        if pg_name:
            await drop(pg_name)
        elif url.startswith("sqlite"):
            await asyncio.to_thread(remove_sqlite_files, url)


if __name__ == "__main__":
    asyncio.run(main())
