"""Ops' alert thresholds for one room: read them, and move the ones `rules/alerts.yaml` lists
under `adjustable` within the bounds it gives. The room keeps its values in its state, so every
worker's next batch evaluates alerts with them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from livedesk.auth.deps import OpsOnly
from livedesk.core.db import commit
from livedesk.core.deps import BusDep, SessionDep
from livedesk.core.errors import ApiError
from livedesk.core.schemas import AS_SHAPED
from livedesk.cues.schemas import Thresholds
from livedesk.roomlog.messages import Message
from livedesk.rooms import service
from livedesk.rooms.lookup import locked_room_or_404, room_or_404
from livedesk.rooms.models import Room
from livedesk.rulebook.cues import AlertRules

router = APIRouter(prefix="/api/v1/rooms", tags=["rooms"])


class ThresholdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # "rule.field" -> value, e.g. {"complaint_surge.threshold": 12}
    values: dict[str, float] = Field(min_length=1, max_length=20)


@router.get("/{room_id}/thresholds", response_model=Thresholds, **AS_SHAPED)
async def get_thresholds(
    room_id: str, request: Request, session: SessionDep, _operator: OpsOnly
) -> dict[str, Any]:
    """Each adjustable alert threshold: its bounds, the rules' value and the room's value."""
    room = await room_or_404(session, room_id)
    return _describe(_rules(request), _overrides(room))


@router.put(
    "/{room_id}/thresholds",
    response_model=Thresholds,
    **AS_SHAPED,
    responses={422: {"description": "Not adjustable, or out of its bounds"}},
)
async def set_thresholds(
    room_id: str,
    body: ThresholdsIn,
    request: Request,
    session: SessionDep,
    bus: BusDep,
    operator: OpsOnly,
) -> dict[str, Any]:
    """Set some thresholds for this room (the others keep their values)."""
    rules = _rules(request)
    room = await locked_room_or_404(session, room_id)
    values = {**_overrides(room), **body.values}
    try:
        rules.adjusted(values)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    room.state = room.state.with_(thresholds=values)
    described = _describe(rules, values)
    message = Message("thresholds", {**described, "by": operator.name})
    await service.tell(session, bus, room, [message])
    await commit(session)
    return described


def _describe(rules: AlertRules, values: dict[str, float]) -> dict[str, Any]:
    return {
        "thresholds": [
            {
                "key": knob,
                "min": bounds.min,
                "max": bounds.max,
                "default": rules.threshold(knob),
                "value": values.get(knob, rules.threshold(knob)),
            }
            for knob, bounds in rules.adjustable.items()
        ]
    }


def _overrides(room: Room) -> dict[str, float]:
    return dict(room.state.thresholds)


def _rules(request: Request) -> AlertRules:
    rules: AlertRules = request.app.state.rulebook.get(AlertRules)
    return rules
