"""After-the-stream API: the follow-up list of a session (JSON, or a spreadsheet), handing it
to the brand's tools as signed webhook batches, and retention after the session."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from livedesk.afterstream import export
from livedesk.afterstream.comparison import compare
from livedesk.afterstream.figures import figures_of
from livedesk.afterstream.followup import FollowUp, decide
from livedesk.afterstream.schemas import (
    Comparison,
    FollowUps,
    FollowUpsSent,
    Retention,
    SessionKindAnswer,
)
from livedesk.afterstream.sessions import ShowSession, chosen, regular_before, tag
from livedesk.afterstream.sources import session_customer_ids, session_customers
from livedesk.auth.deps import OpsOnly
from livedesk.core import spreadsheet
from livedesk.core.clock import utcnow
from livedesk.core.db import commit
from livedesk.core.deps import SessionDep
from livedesk.core.jsonutil import JsonResponse
from livedesk.core.schemas import AS_SHAPED
from livedesk.customers import retention
from livedesk.onair.kinds import KIND_DESCRIPTION, SESSION_KINDS, KindId, labelled
from livedesk.promotions.report import drops
from livedesk.rooms.lookup import room_or_404
from livedesk.rulebook.customers import TierRules
from livedesk.rulebook.followup import FollowUpRules
from livedesk.rulebook.lexicon import LexiconRules

router = APIRouter(prefix="/api/v1/rooms", tags=["after the stream"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "Needs the ops or admin role"},
    404: {"description": "No such room"},
}


# `?session=ID`: one of the room's sessions; absent, its newest (a room never started: all
# it saw).
SessionParam = Annotated[
    int | None,
    Query(alias="session", ge=1, description="A session of the room; absent: its newest"),
]


async def _follow_ups(request: Request, session: SessionDep, this: ShowSession) -> list[FollowUp]:
    """Each customer the session saw, with what to do next (rules/followup.yaml)."""
    rulebook = request.app.state.rulebook
    now = utcnow()
    room = this.room
    tiers = rulebook.get(TierRules)
    people = await session_customers(session, room.id, tiers, now, this.window())
    rules = rulebook.get(FollowUpRules)
    labels = rulebook.get(LexiconRules).intent_labels()
    return [decide(person, rules, labels, room.title or room.id, now) for person in people]


@router.get(
    "/{room_id}/followup",
    responses={
        **RESPONSES,
        200: {"model": FollowUps, "content": {"text/csv": {}}, "description": "JSON or CSV"},
    },
)
async def followup_list(
    room_id: str,
    request: Request,
    session: SessionDep,
    _operator: OpsOnly,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    session_id: SessionParam = None,
) -> Response:
    """Each customer the session (the room's newest, `?session=ID` another) saw (spoke,
    bought, got a packet or coupon): what they asked, bought, claimed and did not use, their
    tier, and the next action and message by rules/followup.yaml. A complaint goes to
    after-sales; do-not-contact gets no marketing. `?format=csv`: a spreadsheet (UTF-8 with
    BOM, Chinese headers)."""
    room = await room_or_404(session, room_id)
    this = await chosen(session, room, session_id)
    follow_ups = await _follow_ups(request, session, this)
    if format == "csv":
        name = f"followup-{room.id}" + (f"-{this.id}" if this.id is not None else "")
        return Response(
            export.to_csv(follow_ups),
            media_type=spreadsheet.MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    items = [export.item(f) for f in follow_ups]
    return JsonResponse({**this.describe(), "customers": items})


@router.post(
    "/{room_id}/followup/send", response_model=FollowUpsSent, **AS_SHAPED, responses=RESPONSES
)
async def followup_send(
    room_id: str,
    request: Request,
    session: SessionDep,
    _operator: OpsOnly,
    session_id: SessionParam = None,
) -> dict[str, int]:
    """Hand a session's follow-ups (the room's newest, `?session=ID` another) to the brand's
    tools: signed webhook batches (`followup.batch`, at most 100 customers each) through the
    outbox to LIVEDESK_FULFILMENT_URL. Each customer of a session is sent once: a second send
    sends only who is new since (the room's next session follows them up again)."""
    room = await room_or_404(session, room_id)
    this = await chosen(session, room, session_id)
    follow_ups = await _follow_ups(request, session, this)
    counts = await export.send(session, room.id, this.id, room.title or room.id, follow_ups)
    await commit(session)
    return counts


@router.get("/{room_id}/retention", response_model=Retention, **AS_SHAPED, responses=RESPONSES)
async def session_retention(
    room_id: str,
    request: Request,
    session: SessionDep,
    _operator: OpsOnly,
    session_id: SessionParam = None,
) -> dict[str, Any]:
    """Did the session's (the room's newest, `?session=ID` another) returning customers keep
    buying? 7- and 30-day repurchase rates and 留存率, overall, per tier and per segment
    (formulas in `formulas`), filling in as orders arrive after the session; a window still
    running is marked incomplete."""
    room = await room_or_404(session, room_id)
    this = await chosen(session, room, session_id)
    start, end = this.span()
    ids = await session_customer_ids(session, room.id, this.window())
    tiers: TierRules = request.app.state.rulebook.get(TierRules)
    members = await retention.returners(session, room.id, ids, start, end, tiers)
    return {
        **this.describe(),
        **retention.report(members, end, utcnow()),
        "formulas": retention.FORMULAS,
    }


class KindIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: KindId = Field(description=KIND_DESCRIPTION)


@router.put("/{room_id}/kind", response_model=SessionKindAnswer, **AS_SHAPED, responses=RESPONSES)
async def set_session_kind(
    room_id: str,
    body: KindIn,
    session: SessionDep,
    operator: OpsOnly,
    session_id: SessionParam = None,
) -> dict[str, Any]:
    """Tag a session (老客专场, 常规, 大促, 新品首发): the room's newest, `?session=ID` another
    (a room never started: all it saw, until its first 开播 takes the tag). Untagged sessions
    are regular, the baseline every other kind is compared with."""
    room = await room_or_404(session, room_id)
    this = await chosen(session, room, session_id)
    await tag(session, this, body.kind, operator.name)
    await commit(session)
    return {
        "room_id": room_id,
        "session_id": this.id,
        "kind": body.kind,
        "label": SESSION_KINDS[body.kind],
    }


@router.get("/{room_id}/comparison", response_model=Comparison, **AS_SHAPED, responses=RESPONSES)
async def session_comparison(
    room_id: str, session: SessionDep, _operator: OpsOnly, session_id: SessionParam = None
) -> dict[str, Any]:
    """A session (the room's newest, `?session=ID` another) beside the regular sessions (the
    latest 10 that ended before it started, of any room, pooled): returning share, AOV
    (客单价提升率 for returning customers), interaction rate, comments per viewer, coupon
    redemption and ROI, with each formula; and each drop's ROI."""
    room = await room_or_404(session, room_id)
    this = await chosen(session, room, session_id)
    baseline = await regular_before(session, this)
    return {
        **this.describe(),
        "title": room.title,
        "kind": labelled(this.kind),
        "baseline_rooms": list(dict.fromkeys(other.room.id for other in baseline)),
        "baseline": [other.describe() for other in baseline],
        **compare(
            await figures_of(session, this),
            [await figures_of(session, other) for other in baseline],
        ),
        "drops": (await drops(session, room.id, this.window()))["drops"],
    }
