"""The CRM import (docs/crm-import.md): stream a CSV into customers, identities and orders.

The file is read row by row and applied in batches, each batch in one transaction with bulk
statements; nothing holds more than a batch in memory. Bad rows are reported (row, column,
reason) and never stop good ones. Re-runs are idempotent: members are keyed by `member_id`,
identities by (platform, platform_user_id), orders by (platform, order_id). Progress is
committed with each batch in `import_runs` (keyed by the file's sha256 and its path), so a
run that crashed resumes after its last committed batch. A dry run reads and applies every
batch the same way, then rolls it back.

Every data row ends up counted once: imported (`imported_rows`), already stored
(`duplicate_rows`: the lines of an order a previous run stored) or rejected with its reasons
(`rejected_rows`); the three add up to `rows`. Batches are cut only between orders, so the
lines of one order stay together when they are next to each other in the file (as exports
write them); a line of an order that an earlier batch of the same run already stored is
rejected with a reason, never counted as a duplicate.

This module reads the file and keeps the run's progress; one batch is applied by
customers.import_batch, and the counts are customers.import_report's.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core.db import commit
from livedesk.customers.csv_format import (
    CsvRow,
    RowError,
    check_header,
)
from livedesk.customers.import_batch import apply_batch
from livedesk.customers.import_report import MAX_ERRORS_KEPT, ErrorCallback, ImportReport
from livedesk.customers.models import ImportRun

DEFAULT_BATCH_ROWS = 1000
ProgressCallback = Callable[[int, int], None]  # (bytes read, rows read)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def import_csv(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_ROWS,
    run_key: str | None = None,
    on_error: ErrorCallback | None = None,
    on_progress: ProgressCallback | None = None,
    max_errors_kept: int = MAX_ERRORS_KEPT,
) -> ImportReport:
    """Import one CRM file; commits once per batch (a dry run rolls each batch back).

    `run_key` names the file in `import_runs` (default: its resolved path); the API passes
    the upload's name, since its temporary path changes on every upload.
    """
    report = ImportReport(dry_run=dry_run)

    def fail(error: RowError) -> None:
        report.add_error(error, max_errors_kept)
        if on_error is not None:
            on_error(error)

    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            reader = csv.DictReader(text)
            header_errors = check_header(reader.fieldnames)
        except (UnicodeDecodeError, csv.Error) as exc:
            header_errors = [RowError(1, None, _unreadable(exc))]
        if header_errors:
            report.header_ok = False
            for error in header_errors:
                fail(error)
            return report
        run_id, skip_rows = (
            (None, 0) if dry_run else await _start_run(sessions, path, run_key, report)
        )
        if skip_rows:
            report.resumed_after_row = skip_rows + 1
        batches = _batches(reader, batch_size, skip_rows)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except (UnicodeDecodeError, csv.Error) as exc:
                # The reader cannot find the next row reliably after this; stop here.
                fail(RowError(report.rows + 2, None, _unreadable(exc)))
                break
            async with sessions() as session:
                await apply_batch(session, batch, report, fail)
                report.rows += len(batch)
                if dry_run:
                    await session.rollback()
                else:
                    await _save_progress(session, run_id, report, done=False)
                    await commit(session)
            if on_progress is not None:
                on_progress(raw.tell(), report.rows)
    if run_id is not None:
        async with sessions() as session:
            await _save_progress(session, run_id, report, done=True)
            await commit(session)
    return report


# --- reading -----------------------------------------------------------------------------


def _batches(
    reader: csv.DictReader[str], batch_size: int, skip_rows: int
) -> Iterator[list[tuple[int, CsvRow]]]:
    """Rows with their spreadsheet numbers, cut into batches between orders."""
    batch: list[tuple[int, CsvRow]] = []
    last_order_id = ""
    order_column = next(
        (
            name
            for name in reader.fieldnames or ()
            if name.replace("\ufeff", "").strip() == "order_id"
        ),
        "order_id",
    )
    for index, row in enumerate(reader):
        if index < skip_rows:
            continue
        order_id = (row.get(order_column) or "").strip()
        if len(batch) >= batch_size and not (order_id and order_id == last_order_id):
            yield batch
            batch = []
        batch.append((index + 2, row))
        last_order_id = order_id
    if batch:
        yield batch


def _unreadable(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "the file is not UTF-8 (save it as “CSV UTF-8”); the rest of the file was not read"
    return f"the CSV cannot be read here ({exc}); the rest of the file was not read"


# --- progress ----------------------------------------------------------------------------


async def _start_run(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    run_key: str | None,
    report: ImportReport,
) -> tuple[int, int]:
    """(run id, data rows already committed): resume an unfinished run of the same file."""
    # Hashing a large file takes a while: keep the event loop free meanwhile.
    digest = await asyncio.to_thread(file_sha256, path)
    key = (run_key or str(await asyncio.to_thread(path.resolve)))[:1024]
    async with sessions() as session:
        run = (
            await session.execute(
                select(ImportRun).where(ImportRun.file_sha256 == digest, ImportRun.path == key)
            )
        ).scalar_one_or_none()
        if run is None:
            run = ImportRun(file_sha256=digest, path=key, status="running", rows_done=0, counts={})
            session.add(run)
        elif run.status == "running":
            report.resume(run.counts or {})
        else:  # finished before: a re-run reads it all again (idempotent, reports duplicates)
            run.status, run.rows_done, run.counts = "running", 0, {}
        await session.flush()
        run_id, rows_done = run.id, run.rows_done
        await commit(session)
    return run_id, rows_done


async def _save_progress(
    session: AsyncSession, run_id: int | None, report: ImportReport, *, done: bool
) -> None:
    if run_id is None:
        return
    run = await session.get(ImportRun, run_id)
    assert run is not None
    run.rows_done = report.rows
    run.counts = report.counts()
    if done:
        run.status = "done"
