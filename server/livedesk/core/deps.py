"""Request-scoped dependencies shared by every domain's endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core.bus import Bus
from livedesk.core.db import rollback
from livedesk.core.settings import Settings


# Async on purpose: FastAPI runs a plain `def` dependency in its thread pool, two thread hops
# per webhook for what is an attribute read.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_bus(request: Request) -> Bus:
    bus: Bus = request.app.state.bus
    return bus


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; the endpoint commits with `core.db.commit`, else it rolls back."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        try:
            yield session
        finally:
            if session.in_transaction():
                await rollback(session)


SettingsDep = Annotated[Settings, Depends(get_settings)]
BusDep = Annotated[Bus, Depends(get_bus)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
