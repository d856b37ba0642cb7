"""The show's API: 开播 / 下播 of a room's session, its sessions, and the rundown (排品) ops
edit and advance. Each change is logged for the panels under the room's row lock."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.auth.deps import AnyOperator, OpsOnly
from livedesk.core.bus import Bus
from livedesk.core.clock import utcnow
from livedesk.core.db import commit
from livedesk.core.deps import BusDep, SessionDep
from livedesk.core.schemas import AS_SHAPED, Answer
from livedesk.onair import records
from livedesk.onair.kinds import KIND_DESCRIPTION, KindId
from livedesk.onair.models import Rundown
from livedesk.onair.schemas import SessionOut
from livedesk.roomlog.messages import Message
from livedesk.rooms import service as rooms
from livedesk.rooms.lookup import locked_room_or_404, room_or_404
from livedesk.rooms.models import Room
from livedesk.rulebook.products import Product, ProductRules
from livedesk.show import rundown as rundowns
from livedesk.show import sessions

router = APIRouter(prefix="/api/v1/rooms", tags=["the show"])

# As a webhook's room_id: 开播 may create the room.
RoomId = Annotated[str, Path(min_length=1, max_length=128)]

Responses = dict[int | str, dict[str, Any]]
NOT_LIVE: Responses = {409: {"description": "The room is not live (下播 without 开播)"}}
ALREADY_LIVE: Responses = {409: {"description": "The room is live already"}}
RUNDOWN_END: Responses = {409: {"description": "The rundown is empty or at its last product"}}


class SessionsOut(Answer):
    room_id: str
    state: str = Field(description="live 直播中, ended 已下播, not_started 未开播")
    sessions: list[SessionOut] = Field(description="Newest first")


class RundownItem(Answer):
    sku: str
    name: str
    price_cents: int | None
    stock_left: int | None


class RundownOut(Answer):
    items: list[RundownItem]
    current: int | None = Field(description="Index of the product on now; null before the first")
    updated_by: str | None


def _catalogue(request: Request) -> dict[str, Product]:
    by_sku: dict[str, Product] = request.app.state.rulebook.get(ProductRules).by_sku()
    return by_sku


async def _locked_or_opened(session: AsyncSession, room_id: str, wanted: StartIn) -> Room:
    """The room, locked; created first when no event has yet (as ingest would create it)."""
    room = await rooms.lock_room(session, room_id)
    if room is None:
        platform = wanted.platform or rooms.PLATFORM_UNKNOWN
        await rooms.ensure_room(session, room_id, platform, title=wanted.title)
        room = await locked_room_or_404(session, room_id)
    elif wanted.platform is not None:
        rooms.adopt_platform(room, wanted.platform)
    return room


# ---- sessions ---------------------------------------------------------------------------------


class StartIn(BaseModel):
    """What 开播 may say: the session's kind, and about a room no event has created yet its
    platform and title (ignored for one that exists, but a platform it does not know yet)."""

    model_config = ConfigDict(extra="forbid")

    platform: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="The live platform (douyin, kuaishou, wechat, taobao, generic…); "
        "absent: the room's first event names it",
    )
    title: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The room's title on the panels (a room created here; default its id)",
    )
    kind: KindId | None = Field(
        default=None,
        description=f"The session's kind: {KIND_DESCRIPTION}; absent: regular (or the tag "
        "given to a room never started before)",
    )


@router.post(
    "/{room_id}/session/start",
    status_code=201,
    responses=ALREADY_LIVE,
    response_model=SessionOut,
    **AS_SHAPED,
)
async def start_session(
    room_id: RoomId,
    session: SessionDep,
    bus: BusDep,
    operator: OpsOnly,
    body: Annotated[StartIn | None, Body()] = None,
) -> dict[str, Any]:
    """开播: open a session of the room now. Its KPIs and review cover it from this moment
    (the room's tallies start from zero; the viewers present are its first audience); events
    before it are stored as ever but not counted in it. A room no event has created yet is
    created here (ops open the console before the stream's first viewer arrives), with the
    body's `platform` and `title`."""
    wanted = body or StartIn()
    room = await _locked_or_opened(session, room_id, wanted)
    live, kpi = await sessions.start(session, room, operator.name, utcnow(), wanted.kind)
    data = records.to_dict(live)
    await rooms.tell(session, bus, room, [Message("session", data), Message("kpi", kpi)])
    await commit(session)
    return data


@router.post("/{room_id}/session/end", responses=NOT_LIVE, response_model=SessionOut, **AS_SHAPED)
async def end_session(
    room_id: str, session: SessionDep, bus: BusDep, operator: OpsOnly
) -> dict[str, Any]:
    """下播: close the room's session now, its figures kept as they stand for the review.
    Events after it are still stored and processed (orders keep arriving), outside it."""
    room = await locked_room_or_404(session, room_id)
    live = await sessions.end(session, room, operator.name, utcnow())
    data = records.to_dict(live)
    await rooms.tell(session, bus, room, [Message("session", data)])
    await commit(session)
    return data


@router.get("/{room_id}/sessions", response_model=SessionsOut, **AS_SHAPED)
async def list_sessions(
    room_id: str, session: SessionDep, _operator: AnyOperator
) -> dict[str, Any]:
    """The room's sessions, newest first, and its state now: live (直播中), ended (已下播) or
    not_started (未开播)."""
    await room_or_404(session, room_id)
    every = await records.of_room(session, room_id)
    return {
        "room_id": room_id,
        "state": records.state_of(every[0] if every else None),
        "sessions": [records.to_dict(live) for live in every],
    }


# ---- rundown ----------------------------------------------------------------------------------


class RundownIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skus: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        max_length=rundowns.MAX_ITEMS,
        description="Catalogue SKUs in presenting order (a product may come back later)",
    )


class GoToIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0, description="Position in the rundown, from 0")


async def _rundown_of(session: AsyncSession, room_id: str, operator: str) -> Rundown:
    found = await session.get(Rundown, room_id)
    if found is None:
        found = Rundown(room_id=room_id, skus=[], current=None, updated_by=operator)
        session.add(found)
    return found


@router.get("/{room_id}/rundown", response_model=RundownOut, **AS_SHAPED)
async def get_rundown(
    room_id: str, request: Request, session: SessionDep, _operator: AnyOperator
) -> dict[str, Any]:
    """The rundown: items in order (name, price, stock left) and `current`, the index of the
    product on now (null before the first)."""
    room = await room_or_404(session, room_id)
    found = await session.get(Rundown, room_id)
    if found is None:
        return {"items": [], "current": None, "updated_by": None}
    return rundowns.message(found, _catalogue(request), _stock(room))


@router.put("/{room_id}/rundown", response_model=RundownOut, **AS_SHAPED)
async def put_rundown(
    room_id: str,
    body: RundownIn,
    request: Request,
    session: SessionDep,
    bus: BusDep,
    operator: OpsOnly,
) -> dict[str, Any]:
    """Set the rundown's products in order (from the catalogue). The product on now stays on
    where it is still listed."""
    catalogue = _catalogue(request)
    rundowns.check_skus(body.skus, catalogue)
    room = await locked_room_or_404(session, room_id)
    found = await _rundown_of(session, room_id, operator.name)
    rundowns.reorder(found, list(body.skus))
    return await _changed(session, bus, room, found, operator.name, catalogue, card=False)


@router.post(
    "/{room_id}/rundown/next", responses=RUNDOWN_END, response_model=RundownOut, **AS_SHAPED
)
async def next_product(
    room_id: str, request: Request, session: SessionDep, bus: BusDep, operator: OpsOnly
) -> dict[str, Any]:
    """Advance the rundown: the next product goes on (the first, before any), and onto the
    host's product card."""
    room = await locked_room_or_404(session, room_id)
    found = await _rundown_of(session, room_id, operator.name)
    rundowns.advance(found)
    return await _changed(session, bus, room, found, operator.name, _catalogue(request), card=True)


@router.post("/{room_id}/rundown/current", response_model=RundownOut, **AS_SHAPED)
async def go_to_product(
    room_id: str,
    body: GoToIn,
    request: Request,
    session: SessionDep,
    bus: BusDep,
    operator: OpsOnly,
) -> dict[str, Any]:
    """Put the rundown's product at `index` on now (going back, or skipping ahead)."""
    room = await locked_room_or_404(session, room_id)
    found = await _rundown_of(session, room_id, operator.name)
    rundowns.go_to(found, body.index)
    return await _changed(session, bus, room, found, operator.name, _catalogue(request), card=True)


async def _changed(
    session: AsyncSession,
    bus: Bus,
    room: Room,
    found: Rundown,
    operator: str,
    catalogue: dict[str, Product],
    *,
    card: bool,
) -> dict[str, Any]:
    """Log the rundown (and, when the product on now changed, the product card) and commit."""
    found.updated_by, found.updated_at = operator, utcnow()
    stock = _stock(room)
    data = rundowns.message(found, catalogue, stock)
    messages = [Message("rundown", data)]
    sku = rundowns.current_sku(found)
    if card and sku is not None and sku in catalogue:
        product = rundowns.product_card(catalogue[sku], stock)
        room.state = room.state.with_(product=product)
        messages.append(Message("product", product))
    await rooms.tell(session, bus, room, messages)
    await commit(session)
    return data


def _stock(room: Room) -> dict[str, int]:
    return dict(room.state.stock)
