"""Ops' hints on the host's teleprompter: push one now, pin it, or take it off (the host may
take one off too: it is their screen). The room keeps its hints in its state, so the pipeline's
next batch sees them."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from livedesk.auth.deps import AnyOperator, OpsOnly
from livedesk.core.clock import utcnow
from livedesk.core.db import commit
from livedesk.core.deps import BusDep, SessionDep
from livedesk.core.errors import ApiError
from livedesk.core.schemas import AS_SHAPED
from livedesk.cues.hints import Hint, HintState
from livedesk.cues.schemas import HintAnswer
from livedesk.roomlog.messages import Message
from livedesk.rooms import service
from livedesk.rooms.lookup import locked_room_or_404
from livedesk.rulebook.compliance import ComplianceRules, ensure_compliant

router = APIRouter(prefix="/api/v1/rooms", tags=["rooms"])


class HintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=120)
    priority: int = Field(default=2, ge=1, le=3)
    expire_s: int = Field(default=120, ge=10, le=3600)


@router.post(
    "/{room_id}/hints",
    status_code=201,
    response_model=HintAnswer,
    **AS_SHAPED,
    responses={422: {"description": "Banned advertising words"}},
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
    ensure_compliant(request.app.state.rulebook.get(ComplianceRules), text=hint.text)
    room = await locked_room_or_404(session, room_id)
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


@router.post("/{room_id}/hints/{hint_id}/{action}", response_model=HintAnswer, **AS_SHAPED)
async def change_hint(
    room_id: str, hint_id: str, action: str, session: SessionDep, bus: BusDep, operator: AnyOperator
) -> dict[str, Any]:
    """`dismiss` takes a hint off the host's screen (the host may, too: it is their screen);
    `pin` keeps it there until dismissed (ops only)."""
    if action not in ("dismiss", "pin"):
        raise ApiError(404, f"unknown action {action!r}")
    if action == "pin" and operator.role not in ("ops", "admin"):
        raise ApiError(403, "only ops may pin a hint")
    room = await locked_room_or_404(session, room_id)
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
