"""`livedesk rules …`: apply a rules set to the running system, list and show stored versions."""

from __future__ import annotations

import asyncio
import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from livedesk.core.db import create_engine, session_factory
from livedesk.core.settings import Settings
from livedesk.rulebook.book import Rulebook, load_rulebook
from livedesk.rulebook.loader import RulesInvalid
from livedesk.rulesets import versions

rules_app = typer.Typer(help="Rules sets: apply one to the running system, list and show versions.")
err = Console(stderr=True)


def _validated(directory: Path, label: str | None) -> Rulebook:
    try:
        return load_rulebook(directory, label=label)
    except RulesInvalid as exc:
        for error in exc.errors:
            err.print(f"[red]{error}[/red]", highlight=False)
        err.print(f"[red]{len(exc.errors)} error(s): nothing applied[/red]")
        raise typer.Exit(1) from None


@rules_app.command("apply")
def apply(
    directory: Annotated[Path | None, typer.Argument(help="[default: LIVEDESK_RULES_DIR]")] = None,
    label: Annotated[
        str | None, typer.Option(help="A name for people [default: the manifest's label]")
    ] = None,
    by: Annotated[str | None, typer.Option(help="Who applies [default: the login name]")] = None,
) -> None:
    """Validate a rules directory and, only if it is valid, make it the rules in force: every
    room switches at its next batch, at one seq of its stream. An invalid set changes nothing
    and every error is printed with file and line."""
    # Imported here: every `livedesk` command (serve too) imports this module.
    from livedesk.core.bus import create_bus
    from livedesk.core.db import commit
    from livedesk.rulesets.switching import announce_apply

    settings = Settings()
    book = _validated(directory or settings.rules_dir, label)

    async def run() -> versions.InForce:
        engine = create_engine(settings.database_url)
        bus = create_bus(settings.redis_url)
        try:
            async with session_factory(engine)() as session:
                in_force = await versions.record_apply(session, book, by=by or getpass.getuser())
                await commit(session)
            await announce_apply(bus)
            return in_force
        finally:
            await bus.close()
            await engine.dispose()

    in_force = asyncio.run(run())
    err.print(
        f"[green]applied[/green] {in_force.version} “{in_force.label}” (apply {in_force.apply_id});"
        " each room switches at its next batch"
    )
    sys.stdout.write(in_force.version_hash + "\n")


@rules_app.command("versions")
def list_versions() -> None:
    """Every stored rules version, newest first, with its applies; * marks the one in force."""

    async def run() -> None:
        engine = create_engine(Settings().database_url)
        try:
            async with session_factory(engine)() as session:
                in_force = await versions.current(session)
                for version, applies in await versions.history(session):
                    mark = "*" if in_force and in_force.version_hash == version.hash else " "
                    when = ", ".join(
                        f"{a.applied_at:%Y-%m-%d %H:%M} by {a.applied_by}" for a in applies
                    )
                    sys.stdout.write(
                        f"{mark} {version.hash[:12]}  {version.label}  applied: {when or '-'}\n"
                    )
        finally:
            await engine.dispose()

    asyncio.run(run())


@rules_app.command("show")
def show(
    version: Annotated[str, typer.Argument(help="Hash or its first 8+ characters")],
    file: Annotated[str | None, typer.Argument(help="One file, e.g. red_packets.yaml")] = None,
) -> None:
    """Print a stored version's files (or one of them), exactly as they were applied."""

    async def run() -> dict[str, str] | None:
        engine = create_engine(Settings().database_url)
        try:
            async with session_factory(engine)() as session:
                row = await versions.find(session, version)
                return dict(row.files) if row is not None else None
        finally:
            await engine.dispose()

    files = asyncio.run(run())
    if files is None:
        err.print(f"[red]no stored rules version {version!r} (give 8+ characters)[/red]")
        raise typer.Exit(1)
    if file is not None and file not in files:
        err.print(f"[red]{file!r} is not in it: {', '.join(sorted(files))}[/red]")
        raise typer.Exit(1)
    for name in [file] if file else sorted(files):
        if file is None:
            sys.stdout.write(f"# ==> {name} <==\n")
        sys.stdout.write(files[name])
