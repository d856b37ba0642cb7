"""Where the Alembic migrations live and how to run them against a URL."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from livedesk.core.assets import asset_dir


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(asset_dir("migrations")))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> None:
    """Apply every migration (runs its own event loop: call from sync code or a thread)."""
    command.upgrade(alembic_config(database_url), "head")


NOT_MIGRATED = "the database has no livedesk tables yet: run `livedesk migrate` first"


def _heads(database_url: str) -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())


async def schema_problem(engine: AsyncEngine, database_url: str) -> str | None:
    """Why this database cannot be used by this version (None: it can, or it cannot be reached:
    that is reported where it matters, by /readyz and the first query)."""
    from alembic.runtime.migration import MigrationContext

    def current(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    try:
        async with engine.connect() as connection:
            applied = await connection.run_sync(current)
    except Exception:
        return None
    if not applied:
        return NOT_MIGRATED
    heads = _heads(database_url)
    if applied != heads:
        return (
            f"the database is at migration {', '.join(sorted(applied))}, this version needs "
            f"{', '.join(sorted(heads))}: run `livedesk migrate`"
        )
    return None
