"""Rooms API: the overview list, live KPIs, the review, the product on the card, the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select
from starlette.responses import Response

from livedesk.auth.deps import AnyOperator, OpsOnly
from livedesk.core.clock import utcnow
from livedesk.core.db import commit
from livedesk.core.deps import BusDep, SessionDep
from livedesk.core.errors import ApiError
from livedesk.core.schemas import AS_SHAPED
from livedesk.customers.report import top_customers
from livedesk.onair import records
from livedesk.onair.models import LiveSession
from livedesk.roomlog.messages import Message
from livedesk.rooms import kpis, report, report_tables, service
from livedesk.rooms.lookup import locked_room_or_404, room_or_404
from livedesk.rooms.models import AuditEntry, Room
from livedesk.rooms.schemas import (
    AuditLog,
    ProductCard,
    ProductIn,
    Products,
    Review,
    RoomHeadline,
    RoomKpis,
    Series,
)
from livedesk.rulebook.book import Rulebook
from livedesk.rulebook.customers import TierRules
from livedesk.rulebook.lexicon import LexiconRules
from livedesk.rulebook.products import ProductRules

router = APIRouter(prefix="/api/v1/rooms", tags=["rooms"])


def _rulebook(request: Request) -> Rulebook:
    book: Rulebook = request.app.state.rulebook
    return book


@router.get("", response_model=list[RoomHeadline], **AS_SHAPED)
async def list_rooms(session: SessionDep, _operator: AnyOperator) -> list[dict[str, Any]]:
    """Rooms with their headline KPIs and their newest session (`session.state`: live 直播中,
    ended 已下播, not_started 未开播), most recently active first (a room opened by 开播 before
    its first event: from its creation)."""
    active = func.coalesce(Room.last_event_at, Room.created_at)
    rooms = (await session.execute(select(Room).order_by(active.desc()))).scalars()
    newest = await records.latest_by_room(session)
    return [_headline(room, newest.get(room.id)) for room in rooms]


@router.get("/{room_id}/kpis", response_model=RoomKpis, **AS_SHAPED)
async def room_kpis(room_id: str, session: SessionDep, _operator: AnyOperator) -> dict[str, Any]:
    """The live KPIs (the same figures the ops console's tiles show)."""
    room = await room_or_404(session, room_id)
    kpi = room.state.kpi or {}
    return {"room_id": room.id, **kpi, "viewers_now": room.viewers_now}


@router.get(
    "/{room_id}/report",
    response_model=None,
    responses={
        200: {
            "model": Review,
            "content": {"text/csv": {}, "application/zip": {}},
            "description": "The review as JSON, or one table as CSV, or all of them zipped",
        }
    },
)
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
    room = await room_or_404(session, room_id)
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
        "kpis": kpis.review_figures(counters, last_kpi),
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


@router.post("/{room_id}/product", response_model=ProductCard, **AS_SHAPED)
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
    room = await locked_room_or_404(session, room_id)
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


@router.get("/{room_id}/products", response_model=Products, **AS_SHAPED)
async def room_products(
    room_id: str, request: Request, session: SessionDep, _operator: AnyOperator
) -> dict[str, Any]:
    """The catalogue as the console lists it, and the product on the host's card now. Sales,
    stock and interest follow live in the kpi (`products`) and sentiment (`interest`) frames."""
    room = await room_or_404(session, room_id)
    catalogue = _rulebook(request).get(ProductRules).by_sku().values()
    current = (room.state.product or {}).get("sku")
    return {
        "products": [
            {"sku": p.sku, "name": p.name, "price_cents": p.price_cents} for p in catalogue
        ],
        "current_sku": current,
    }


@router.get("/{room_id}/series", response_model=Series, **AS_SHAPED)
async def room_series(room_id: str, session: SessionDep, _operator: OpsOnly) -> dict[str, Any]:
    """The session's chart series so far (viewers and returning share, 1-minute sentiment, the
    warnings and criticals), thinned to a few hundred points: a console opened late or reloaded
    draws its charts from here, then the live frames carry on."""
    room = await room_or_404(session, room_id)
    live = await records.latest(session, room.id)
    window = records.window(live) if live is not None else None
    return {"room_id": room.id, **(await report.timelines(session, room.id, window))}


def _product_names(request: Request) -> dict[str, str]:
    return {sku: p.name for sku, p in _rulebook(request).get(ProductRules).by_sku().items()}


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


@router.get("/{room_id}/audit", response_model=AuditLog, **AS_SHAPED)
async def audit_log(
    room_id: str,
    session: SessionDep,
    _operator: OpsOnly,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """The room's manual ops actions (drops, approvals, pauses, retried deliveries), newest
    first: who, when, what, with which key."""
    await room_or_404(session, room_id)
    rows = await session.execute(
        select(AuditEntry)
        .where(AuditEntry.room_id == room_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    return {
        "entries": [
            {
                "at": entry.created_at.isoformat(),
                "operator": entry.operator,
                "action": entry.action,
                "target": entry.target,
                "idempotency_key": entry.idempotency_key,
                "body": entry.body,
                "detail": entry.detail,
            }
            for entry in rows.scalars()
        ]
    }
