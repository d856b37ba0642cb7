"""Rooms API: the overview list, live KPIs, the review, and ops' hint and product controls."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.responses import Response

from livedesk.auth.deps import AnyOperator, OpsOnly
from livedesk.core.clock import utcnow
from livedesk.core.db import commit
from livedesk.core.deps import BusDep, SessionDep
from livedesk.core.errors import ApiError
from livedesk.cues.hints import Hint, HintState
from livedesk.customers.report import top_customers
from livedesk.onair import records
from livedesk.onair.models import LiveSession
from livedesk.roomlog.messages import Message
from livedesk.rooms import report, report_tables, service
from livedesk.rooms.models import Room
from livedesk.rulebook.book import Rulebook
from livedesk.rulebook.compliance import ComplianceRules, ensure_compliant
from livedesk.rulebook.customers import TierRules
from livedesk.rulebook.lexicon import LexiconRules
from livedesk.rulebook.products import ProductRules

router = APIRouter(prefix="/api/v1/rooms", tags=["rooms"])

Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: {"description": "No such room"}}
AUTH: Responses = {401: {"description": "Not signed in"}, 403: {"description": "Role not allowed"}}


def _rulebook(request: Request) -> Rulebook:
    book: Rulebook = request.app.state.rulebook
    return book


@router.get("", responses=AUTH)
async def list_rooms(session: SessionDep, _operator: AnyOperator) -> list[dict[str, Any]]:
    """Rooms with their headline KPIs and their newest session (`session.state`: live 直播中,
    ended 已下播, not_started 未开播), most recently active first."""
    rooms = (
        await session.execute(select(Room).order_by(Room.last_event_at.desc().nulls_last()))
    ).scalars()
    newest = await records.latest_by_room(session)
    return [_headline(room, newest.get(room.id)) for room in rooms]


@router.get("/{room_id}/kpis", responses={**NOT_FOUND, **AUTH})
async def room_kpis(room_id: str, session: SessionDep, _operator: AnyOperator) -> dict[str, Any]:
    """The live KPIs (the same figures the ops console's tiles show)."""
    room = await _room(session, room_id)
    kpi = room.state.kpi or {}
    return {"room_id": room.id, **kpi, "viewers_now": room.viewers_now}


@router.get("/{room_id}/report", responses={**NOT_FOUND, **AUTH})
async def room_report(
    room_id: str,
    request: Request,
    session: SessionDep,
    _operator: OpsOnly,
    format: Annotated[str, Query(pattern="^(json|csv|zip)$")] = "json",
    table: Annotated[str, Query(pattern="^[a-z_]{1,32}$")] = "summary",
    session_id: Annotated[int | None, Query(alias="session", ge=1)] = None,
) -> Any:
    """The post-session review as JSON; for a spreadsheet `?format=csv&table=NAME` (one table:
    summary, drops, interest, intents, customers, alerts, viewers, sentiment) or `?format=zip`
    (all of them), UTF-8 with BOM, Chinese headers, yuan and percent. It covers the room's
    newest session from 开播 to 下播 (`?session=ID` another of its sessions; a room never
    started covers all it saw)."""
    room = await _room(session, room_id)
    live = await records.chosen(session, room.id, session_id)
    if session_id is not None and live is None:
        raise ApiError(404, f"room {room.id!r} has no session {session_id}")
    rulebook = _rulebook(request)
    labels = rulebook.get(LexiconRules).intent_labels()
    counters, last_kpi = records.figures(live, room.state.counters, room.state.kpi)
    window = records.window(live) if live is not None else None
    started, ended = _span(room, live)
    body: dict[str, Any] = {
        "room_id": room.id,
        "title": room.title,
        "session": records.to_dict(live),
        "started_at": started,
        "ended_at": ended,
        "kpis": report.headline(counters, last_kpi),
        "drops": [],
        "top_intents": report.top_intents(counters, labels),
        "interest_ranking": report.interest_ranking(counters, _product_names(request)),
        "top_customers": await top_customers(
            session, room.id, rulebook.get(TierRules), utcnow(), window=window
        ),
        **(await report.timelines(session, room.id, window)),
    }
    for extend in request.app.state.report_parts:
        body.update(await extend(session, room.id, window))
    if format == "json":
        return body
    every = report_tables.tables(body)
    if format == "zip":
        name = f"livedesk-{room.id}.zip"
        return Response(
            report_tables.to_zip(every), media_type="application/zip", headers=_download(name)
        )
    chosen = next((t for t in every if t.name == table), None)
    if chosen is None:
        raise ApiError(404, f"no table {table!r}; one of {', '.join(t.name for t in every)}")
    name = f"livedesk-{room.id}-{chosen.name}.csv"
    return Response(
        report_tables.to_csv(chosen), media_type="text/csv; charset=utf-8", headers=_download(name)
    )


def _span(room: Room, live: LiveSession | None) -> tuple[str | None, str | None]:
    if live is None:
        last = room.last_event_at
        return room.created_at.isoformat(), last.isoformat() if last else None
    return live.started_at.isoformat(), live.ended_at.isoformat() if live.ended_at else None


def _download(filename: str) -> dict[str, str]:
    # Room ids are [A-Za-z0-9._-] in practice; quote anything else out of the header.
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)
    return {"Content-Disposition": f'attachment; filename="{safe}"'}


class HintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=120)
    priority: int = Field(default=2, ge=1, le=3)
    expire_s: int = Field(default=120, ge=10, le=3600)


@router.post(
    "/{room_id}/hints",
    status_code=201,
    responses={**NOT_FOUND, **AUTH, 422: {"description": "Banned advertising words"}},
)
async def push_hint(
    room_id: str,
    hint: HintIn,
    request: Request,
    session: SessionDep,
    bus: BusDep,
    _operator: OpsOnly,
) -> dict[str, Any]:
    """Push a hint to the host's teleprompter now (checked against the banned-word list)."""
    ensure_compliant(_rulebook(request).get(ComplianceRules), text=hint.text)
    room = await _locked_room(session, room_id)
    now = utcnow()
    manual = Hint(
        id=f"manual-{uuid.uuid4().hex[:12]}",
        intent="manual",
        text=hint.text,
        priority=hint.priority,
        created_at=now,
        expires_at=now + timedelta(seconds=hint.expire_s),
    )
    state = HintState.from_dict(room.state.hints)
    state.show(manual)
    room.state = room.state.with_(hints=state.to_dict())
    data = {**manual.to_dict(), "pinned": False}
    await service.tell(session, bus, room, [Message("hint", data)])
    await commit(session)
    return data


@router.post("/{room_id}/hints/{hint_id}/{action}", responses={**NOT_FOUND, **AUTH})
async def change_hint(
    room_id: str, hint_id: str, action: str, session: SessionDep, bus: BusDep, operator: AnyOperator
) -> dict[str, Any]:
    """`dismiss` takes a hint off the host's screen (the host may, too: it is their screen);
    `pin` keeps it there until dismissed (ops only)."""
    if action not in ("dismiss", "pin"):
        raise ApiError(404, f"unknown action {action!r}")
    if action == "pin" and operator.role not in ("ops", "admin"):
        raise ApiError(403, "only ops may pin a hint")
    room = await _locked_room(session, room_id)
    state = HintState.from_dict(room.state.hints)
    current = next((h for h in state.on_screen if h.id == hint_id), None)
    if current is None:
        raise ApiError(404, f"hint {hint_id!r} is not on screen")
    if action == "dismiss":
        state.dismiss(hint_id)
        message = Message("hint_dismissed", {"id": hint_id})
    else:
        pinned = Hint(**{**current.__dict__, "expires_at": current.created_at + timedelta(days=1)})
        state.dismiss(hint_id)
        state.show(pinned)
        message = Message("hint", {**pinned.to_dict(), "pinned": True})
    room.state = room.state.with_(hints=state.to_dict())
    await service.tell(session, bus, room, [message])
    await commit(session)
    return message.data


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)


@router.post("/{room_id}/product", responses={**NOT_FOUND, **AUTH})
async def set_product(
    room_id: str,
    product: ProductIn,
    request: Request,
    session: SessionDep,
    bus: BusDep,
    _operator: OpsOnly,
) -> dict[str, Any]:
    """Put a catalogue product on the host's product card (讲解中)."""
    known = _rulebook(request).get(ProductRules).by_sku().get(product.sku)
    if known is None:
        raise ApiError(422, f"unknown SKU {product.sku!r}")
    room = await _locked_room(session, room_id)
    stock = room.state.stock.get(known.sku)
    data = {
        "sku": known.sku,
        "name": known.name,
        "price_cents": known.price_cents,
        "stock_left": stock,
        "talking_points": known.talking_points,
    }
    room.state = room.state.with_(product=data)
    await service.tell(session, bus, room, [Message("product", data)])
    await commit(session)
    return data


@router.get("/{room_id}/products", responses={**NOT_FOUND, **AUTH})
async def room_products(
    room_id: str, request: Request, session: SessionDep, _operator: AnyOperator
) -> dict[str, Any]:
    """The catalogue as the console lists it, and the product on the host's card now. Sales,
    stock and interest follow live in the kpi (`products`) and sentiment (`interest`) frames."""
    room = await _room(session, room_id)
    catalogue = _rulebook(request).get(ProductRules).by_sku().values()
    current = (room.state.product or {}).get("sku")
    return {
        "products": [
            {"sku": p.sku, "name": p.name, "price_cents": p.price_cents} for p in catalogue
        ],
        "current_sku": current,
    }


@router.get("/{room_id}/series", responses={**NOT_FOUND, **AUTH})
async def room_series(room_id: str, session: SessionDep, _operator: OpsOnly) -> dict[str, Any]:
    """The session's chart series so far (viewers and returning share, 1-minute sentiment, the
    warnings and criticals), thinned to a few hundred points: a console opened late or reloaded
    draws its charts from here, then the live frames carry on."""
    room = await _room(session, room_id)
    live = await records.latest(session, room.id)
    window = records.window(live) if live is not None else None
    return {"room_id": room.id, **(await report.timelines(session, room.id, window))}


def _product_names(request: Request) -> dict[str, str]:
    return {sku: p.name for sku, p in _rulebook(request).get(ProductRules).by_sku().items()}


async def _room(session: SessionDep, room_id: str) -> Room:
    room = await session.get(Room, room_id)
    if room is None:
        raise ApiError(404, f"no room {room_id!r}")
    return room


async def _locked_room(session: SessionDep, room_id: str) -> Room:
    room = await service.lock_room(session, room_id)
    if room is None:
        raise ApiError(404, f"no room {room_id!r}")
    return room


def _headline(room: Room, live: LiveSession | None) -> dict[str, Any]:
    _counters, kpi = records.figures(live, room.state.counters, room.state.kpi)
    return {
        "room_id": room.id,
        "title": room.title,
        "status": room.status,
        "session": records.to_dict(live),
        "viewers_now": room.viewers_now,
        "viewers_estimated": kpi.get("viewers_estimated", 0),
        "returning_share": kpi.get("returning_share"),
        "gmv_cents": kpi.get("gmv_cents", 0),
        "orders": kpi.get("orders", 0),
        "last_event_at": room.last_event_at.isoformat() if room.last_event_at else None,
    }
