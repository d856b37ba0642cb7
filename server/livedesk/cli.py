"""The `livedesk` command: serve, pipeline, migrate, operators, rules, replay, import."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from livedesk.core import migrations
from livedesk.core.children import dying_with_parent
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.core.settings import Settings
from livedesk.dryrun.cli import dry_run_command
from livedesk.ingest.platforms.secrets import check_secrets
from livedesk.rulesets.cli import rules_app
from livedesk.simulator.cli import replay, simulate

app = typer.Typer(help="livedesk: the real-time control desk for live-stream commerce.")
user_app = typer.Typer(help="Operators (hosts, ops staff, admins).")
app.add_typer(user_app, name="user")
app.add_typer(rules_app, name="rules")
app.command("dry-run")(dry_run_command)
err = Console(stderr=True)


@app.command()
def migrate() -> None:
    """Apply the Alembic migrations to LIVEDESK_DATABASE_URL."""
    settings = Settings()
    migrations.upgrade(settings.database_url)
    err.print(f"[green]migrated[/green] {settings.database_url}")


@app.command()
def restored() -> None:
    """After restoring a database backup: give every room a new epoch, so a panel that saw seqs
    the restore took back starts over from a snapshot instead of taking new messages for old."""
    from livedesk.rooms import service as rooms

    database_url = Settings().database_url
    _require_migrated(database_url)

    async def run() -> int:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                count = await rooms.renew_epochs(session)
                await commit(session)
                return count
        finally:
            await engine.dispose()

    err.print(f"[green]{asyncio.run(run())} rooms have a new epoch[/green]")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (needs LIVEDESK_REDIS_URL if > 1).")
    ] = 1,
    pipeline_processes: Annotated[
        int,
        typer.Option(
            help="Processes that only process the inbox; the web workers then only take "
            "webhooks and serve panels (needs LIVEDESK_REDIS_URL and PostgreSQL). "
            "0: each web worker processes too.",
            min=0,
        ),
    ] = 0,
) -> None:
    """Run the server (uvicorn underneath)."""
    import uvicorn

    settings = Settings()
    try:
        check_secrets(settings)  # create_app checks again; here the message comes out clean
    except ValueError as exc:
        err.print("[red]livedesk cannot start: the configuration is wrong[/red]")
        err.print(f"  {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    several = (
        "--workers > 1" if workers > 1 else "--pipeline-processes" if pipeline_processes else ""
    )
    if several and not settings.redis_url:
        err.print(
            f"[red]{several} needs LIVEDESK_REDIS_URL[/red] (the in-process bus is per process)"
        )
        raise typer.Exit(2)
    if several and settings.is_sqlite:
        err.print("[red]SQLite is for one process; use PostgreSQL for several processes[/red]")
        raise typer.Exit(2)
    children = None
    if pipeline_processes:
        os.environ["LIVEDESK_RUN_PIPELINE"] = "false"  # for the web workers, started below
        children = PipelineProcesses(pipeline_processes)
        # uvicorn shuts down on SIGTERM, then raises it again for the handler it found: make
        # that an exit that runs the `finally` below instead of the default sudden death.
        signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        uvicorn.run(
            "livedesk.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **settings.uvicorn_options(),  # type: ignore[arg-type]
            log_level="info",
            access_log=False,
            timeout_graceful_shutdown=10,
            # uvicorn (0.30+) kills a worker not ready within this: a worker loads the rules,
            # the models and its pipeline first, and on a busy machine that takes more than
            # uvicorn's 5 s; the default made it kill and respawn workers forever.
            timeout_worker_healthcheck=60,
        )
    finally:
        if children is not None:
            children.stop()


class PipelineProcesses:
    """`serve --pipeline-processes N`: N `livedesk pipeline` children, each replaced when it
    dies (as uvicorn replaces a dead web worker), all stopped on the way out."""

    def __init__(self, count: int):
        self._preexec = dying_with_parent()
        self._children = [self._start() for _ in range(count)]
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="pipeline-watch", daemon=True)
        self._watcher.start()

    def _start(self) -> subprocess.Popen[bytes]:
        # A process of its own (not multiprocessing): it is `livedesk pipeline`, as an operator
        # would run it on another host, and it dies with this one.
        command = [sys.executable, "-c", "from livedesk.cli import main; main()", "pipeline"]
        return subprocess.Popen(command, preexec_fn=self._preexec)

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            for index, child in enumerate(self._children):
                if child.poll() is not None:
                    err.print(
                        f"pipeline process {child.pid} exited ({child.returncode}); restarting"
                    )
                    self._children[index] = self._start()

    def stop(self) -> None:
        self._stopping.set()
        self._watcher.join()
        for child in self._children:
            child.terminate()  # SIGTERM: the batch in hand rolls back, the next run redoes it
        for child in self._children:
            child.wait()


def _exit_quietly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


@app.command()
def pipeline() -> None:
    """Process the inbox only, no HTTP: beside `serve` workers that run with
    LIVEDESK_RUN_PIPELINE=false (`serve --pipeline-processes N` starts these itself)."""
    from livedesk.processing import serve_pipeline

    settings = Settings()
    if not settings.redis_url or settings.is_sqlite:
        err.print("[red]a pipeline process needs LIVEDESK_REDIS_URL and PostgreSQL[/red]")
        raise typer.Exit(2)
    asyncio.run(serve_pipeline(settings))


@user_app.command("add")
def user_add(
    name: str,
    role: Annotated[str, typer.Option(help="host, ops or admin")] = "ops",
) -> None:
    """Create an operator; the token is printed once, alone on the last line of stdout."""
    from livedesk.auth import service

    _require_migrated(Settings().database_url)

    async def run() -> str:
        engine = create_engine(Settings().database_url)
        try:
            async with session_factory(engine)() as session:
                _operator, token = await service.add_operator(session, name, role)
                await commit(session)
                return token
        finally:
            await engine.dispose()

    try:
        token = asyncio.run(run())
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    except Exception as exc:  # unique name taken, database missing
        err.print(f"[red]could not add {name!r}: {type(exc).__name__}: {exc}[/red]")
        raise typer.Exit(1) from None
    err.print(f"operator [bold]{name}[/bold] ({role}) created; the token is shown only now:")
    sys.stdout.write(token + "\n")


@app.command()
def prune() -> None:
    """Delete what is past its retention window: processed inbox events, old room log
    messages beyond each room's resume history, old Idempotency-Keys (run it daily)."""
    from livedesk.pruning import Windows
    from livedesk.pruning import prune as prune_tables

    settings = Settings()
    _require_migrated(settings.database_url)

    async def run() -> object:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                pruned = await prune_tables(session, Windows.from_settings(settings))
                await commit(session)
                return pruned
        finally:
            await engine.dispose()

    pruned = asyncio.run(run())
    err.print(f"pruned {pruned}", markup=False)


@app.command("check-rules")
def check_rules(directory: Annotated[Path | None, typer.Argument()] = None) -> None:
    """Validate rules/ and print every error with file and line."""
    from livedesk.rulebook.book import load_rulebook
    from livedesk.rulebook.loader import RulesInvalid

    target = directory or Settings().rules_dir
    try:
        load_rulebook(target)
    except RulesInvalid as exc:
        for error in exc.errors:
            err.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    err.print(f"[green]rules OK[/green] ({target})")


@app.command("import-customers")
def import_customers(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The CRM CSV file.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count everything, store nothing.")
    ] = False,
    errors: Annotated[
        Path | None, typer.Option(help="Write every rejected row here (row,column,reason).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Rows per transaction.", min=1)] = 1000,
) -> None:
    """Load CRM members and order history (docs/crm-import.md); safe to re-run or resume."""
    import contextlib
    import csv

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from livedesk.customers.csv_format import ERROR_REPORT_COLUMNS, RowError
    from livedesk.customers.import_report import ImportReport
    from livedesk.customers.importer import import_csv

    shown_errors = 20
    _require_migrated(Settings().database_url)

    async def run(on_error: Callable[[RowError], None]) -> ImportReport:
        engine = create_engine(Settings().database_url)
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
        try:
            with Progress(*columns, TimeRemainingColumn(), console=err) as progress:
                task = progress.add_task("importing", total=file.stat().st_size)

                def advance(bytes_read: int, rows: int) -> None:
                    progress.update(task, completed=bytes_read, description=f"{rows:,} rows")

                return await import_csv(
                    session_factory(engine),
                    file,
                    dry_run=dry_run,
                    batch_size=batch_size,
                    on_error=on_error,
                    on_progress=advance,
                )
        finally:
            await engine.dispose()

    with contextlib.ExitStack() as stack:
        writer = None
        if errors is not None:
            writer = csv.writer(stack.enter_context(errors.open("w", encoding="utf-8", newline="")))
            writer.writerow(ERROR_REPORT_COLUMNS)

        def on_error(error: RowError) -> None:
            if writer is not None:
                writer.writerow(error.as_record())

        report = asyncio.run(run(on_error))
    for error in report.errors[:shown_errors]:
        err.print(str(error), markup=False, style="yellow")
    if report.error_count > shown_errors:
        where = f"all of them in {errors}" if errors else "pass --errors FILE for all of them"
        err.print(f"… {report.error_count - shown_errors} more rejected rows ({where})")
    if not report.header_ok:
        raise typer.Exit(2)
    verb = "would import" if dry_run else "imported"
    err.print(
        f"{report.rows:,} rows: {report.imported_rows:,} taken, {report.duplicate_rows:,} "
        f"already stored, {report.rejected_rows:,} rejected; {verb} "
        f"{report.imported_members:,} new members and {report.imported_orders:,} orders "
        f"({report.skipped_duplicates:,} orders already stored)"
        + (f" (resumed after row {report.resumed_after_row})" if report.resumed_after_row else ""),
        markup=False,
    )
    if report.error_count:
        raise typer.Exit(1)


def _require_migrated(database_url: str) -> None:
    """Stop with the fix ("run livedesk migrate first") rather than a page of traceback."""

    async def check() -> str | None:
        engine = create_engine(database_url)
        try:
            return await migrations.schema_problem(engine, database_url)
        finally:
            await engine.dispose()

    problem = asyncio.run(check())
    if problem:
        err.print(f"[red]{problem}[/red]")
        raise typer.Exit(1)


app.command()(simulate)
app.command()(replay)


def main() -> None:
    """The `livedesk` command. A malformed LIVEDESK_* variable is one clear line per problem
    and exit status 2, not a traceback (and never the value: it may be a secret)."""
    try:
        app()
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        err.print("[red]livedesk cannot start: the configuration is wrong[/red]")
        for error in exc.errors(include_input=False, include_url=False):
            variable = f"LIVEDESK_{str(error['loc'][0]).upper()}" if error["loc"] else "settings"
            reason = error["msg"].removeprefix("Value error, ")
            err.print(f"  {variable}: {reason}", markup=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
