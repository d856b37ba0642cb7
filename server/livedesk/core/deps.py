"""Request-scoped dependencies shared by every domain's endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request, WebSocketException, status
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from livedesk.core.bus import Bus
from livedesk.core.db import rollback
from livedesk.core.errors import ApiError
from livedesk.core.settings import Settings
from livedesk.core.text import unstorable


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


async def refuse_unstorable_input(connection: HTTPConnection) -> None:
    """Every route's path and query parameters and JSON body (an app-wide dependency): text
    livedesk cannot store (core.text) is a 422 naming the field, before anything reads the
    database. Webhooks read their own bodies and check each event on its own (ingest)."""
    problem = unstorable(dict(connection.path_params)) or unstorable(dict(connection.query_params))
    if problem is None and isinstance(connection, Request):
        problem = unstorable(await _json_body(connection), "body")
    if problem is None:
        return
    if isinstance(connection, Request):
        raise ApiError(422, problem)
    raise WebSocketException(status.WS_1008_POLICY_VIOLATION, problem)


async def _json_body(request: Request) -> object:
    """The JSON body FastAPI has already read (so nothing is read twice), or None: a route
    whose body is not a form, sent as JSON. Webhook routes declare no body: never read here."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return None
    media = request.headers.get("content-type", "application/json").split(";", 1)[0]
    if not media.strip().lower().endswith(("/json", "+json")) or not await request.body():
        return None
    try:
        return await request.json()
    except ValueError:  # FastAPI answers an undecodable body itself
        return None
