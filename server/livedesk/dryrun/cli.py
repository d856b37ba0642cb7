"""`livedesk dry-run`: try candidate rules on a recorded session before a big night."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

err = Console(stderr=True)


def dry_run_command(
    session: Annotated[
        Path | None,
        typer.Argument(exists=True, dir_okay=False, help="A recorded session, JSONL."),
    ] = None,
    rules: Annotated[Path, typer.Option(help="The candidate rules directory.")] = Path("rules"),
    room: Annotated[
        str | None, typer.Option(help="Replay this room's own inbox instead of a file.")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="Compare with this rules directory [default: the rules in force]."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON on stdout.")] = False,
    nice: Annotated[int, typer.Option(help="Lower this process's CPU priority by this.")] = 0,
) -> None:
    """Replay a session under candidate rules into a throwaway database (the real one is only
    read): who would be greeted, what would be granted, the cost against budgets, and the
    differences from the rules in force and from what actually happened."""
    # Imported here: every `livedesk` command (serve too) imports this module.
    import orjson

    from livedesk.core.settings import Settings
    from livedesk.dryrun import report
    from livedesk.dryrun.service import SessionUnreadable, dry_run
    from livedesk.rulebook.book import load_rulebook
    from livedesk.rulebook.loader import RulesInvalid

    if (session is None) == (room is None):
        err.print("[red]give a SESSION.jsonl or --room, one of them[/red]")
        raise typer.Exit(2)
    if nice:
        os.nice(nice)
    try:
        candidate = load_rulebook(rules)
        against = load_rulebook(baseline) if baseline is not None else None
        result = asyncio.run(
            dry_run(Settings(), candidate, session_file=session, room_id=room, baseline=against)
        )
    except RulesInvalid as exc:
        for error in exc.errors:
            err.print(f"[red]{error}[/red]", highlight=False)
        raise typer.Exit(1) from None
    except SessionUnreadable as exc:
        err.print(str(exc), style="red", highlight=False, markup=False)
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
    else:
        sys.stdout.write(report.render(result) + "\n")
