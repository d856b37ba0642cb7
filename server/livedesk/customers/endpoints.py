"""Customers API: one customer's profile, and the CRM import (as `livedesk import-customers`)."""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.responses import Response

from livedesk.auth.deps import OpsOnly
from livedesk.core import spreadsheet
from livedesk.core.clock import iso_local, utcnow
from livedesk.core.db import commit
from livedesk.core.deps import SessionDep
from livedesk.core.errors import ApiError
from livedesk.core.jsonutil import JsonResponse
from livedesk.core.schemas import AS_SHAPED
from livedesk.customers import churn_list as churn_list_service
from livedesk.customers import repository as repo
from livedesk.customers.churn import LEVEL_LABELS, LEVELS, churn_warning
from livedesk.customers.history import history_of
from livedesk.customers.importer import import_csv
from livedesk.customers.profile import profile_for, repurchase_count
from livedesk.customers.schemas import (
    Audiences,
    ChurnPage,
    CustomerCard,
    DoNotContactState,
    DoNotGreetState,
    ImportReport,
)
from livedesk.rulebook.customers import ChurnLevel, DoNotGreetReason, SegmentId, TierRules

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])
# Ids are BIGINT: a larger number is no customer (422), never a database error. The routes
# match digits only ({customer_id:int}), so GET /customers/import is a 405, not a bad id.
CustomerId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]

RECENT_ORDERS_SHOWN = 20
MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # larger files: use the CLI on the server
_COPY_CHUNK = 1 << 20
_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "Needs the ops or admin role"},
}


@router.get("/audiences", response_model=Audiences, **AS_SHAPED, responses=_AUTH_RESPONSES)
async def audiences(request: Request, _operator: OpsOnly) -> dict[str, Any]:
    """The tiers, segments and 流失预警 levels a coupon drop may name (`min_tier`, `segment`,
    `churn_risk`: that level and up), lowest first, with the labels the panels show."""
    rules: TierRules = request.app.state.rulebook.get(TierRules)
    return {
        "tiers": [{"id": tier.id, "label": tier.label} for tier in rules.tiers],
        "segments": [
            {"id": segment, "label": rules.segments.label_of(segment)}
            for segment in get_args(SegmentId)
        ],
        "churn": [
            {"id": level.value, "label": f"{LEVEL_LABELS[level]}及以上"}
            for level in reversed(LEVELS)
        ],
    }


@router.get(
    "/churn",
    responses={
        **_AUTH_RESPONSES,
        200: {"model": ChurnPage, "content": {"text/csv": {}}, "description": "A page, or CSV"},
    },
)
async def churn_list(
    request: Request,
    session: SessionDep,
    _operator: OpsOnly,
    risk: Annotated[
        ChurnLevel | None, Query(description="This level and up: low | medium | high")
    ] = None,
    reason: Annotated[
        Literal["overdue", "no_order", "silent", "spend_decline"] | None,
        Query(description="Only customers with this reason"),
    ] = None,
    tier: Annotated[str | None, Query(max_length=32)] = None,
    segment: Annotated[SegmentId | None, Query()] = None,
    after: Annotated[int, Query(ge=0, description="`next_after` of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    """流失预警: customers at risk of churning, each with level and reasons (rules/tiers.yaml
    `churn`), in customer id order a page at a time; `?format=csv` is every match at once
    (UTF-8 with BOM, Chinese headers) for a spreadsheet."""
    rules: TierRules = request.app.state.rulebook.get(TierRules)
    if tier is not None and tier not in {t.id for t in rules.tiers}:
        raise ApiError(422, f"unknown tier {tier!r}; tiers.yaml has {rules.tier_choices()}")
    filters = churn_list_service.Filters(risk, reason, tier, segment)
    now = utcnow()
    if format == "csv":
        rows, _next = await churn_list_service.at_risk(session, rules, now, filters)
        return Response(
            churn_list_service.to_csv(rows),
            media_type=spreadsheet.MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="churn-risk.csv"'},
        )
    rows, next_after = await churn_list_service.at_risk(
        session, rules, now, filters, after=after, limit=limit
    )
    return JsonResponse({"customers": [row.to_dict() for row in rows], "next_after": next_after})


@router.get(
    "/{customer_id:int}",
    response_model=CustomerCard,
    **AS_SHAPED,
    responses={**_AUTH_RESPONSES, 404: {"description": "No such customer"}},
)
async def get_customer(
    customer_id: CustomerId, request: Request, session: SessionDep, _operator: OpsOnly
) -> dict[str, Any]:
    """Profile, identities, tier, RFM, segment and history; a merged id shows the survivor."""
    customer = await repo.root_customer(session, customer_id)
    if customer is None:
        raise ApiError(404, f"no customer {customer_id}")
    rules: TierRules = request.app.state.rulebook.get(TierRules)
    history = history_of(customer)
    now = utcnow()
    profile = profile_for(history, rules, now)
    warning = churn_warning(history, customer.last_seen_at, rules, now)
    identities = await repo.identities_of(session, customer.id)
    orders = await repo.recent_orders(session, customer.id, limit=RECENT_ORDERS_SHOWN)
    return {
        "id": customer.id,
        "nickname": customer.nickname,
        "member_id": customer.member_id,
        "tier": {"id": profile.tier.id, "label": profile.tier.label},
        "rfm": {
            "r": profile.rfm.r,
            "f": profile.rfm.f,
            "m": profile.rfm.m,
            "score": profile.rfm.score,
        },
        "segment": {
            "id": profile.segment.id,
            "label": profile.segment.label,
            "churn_risk": profile.segment.churn_risk.value if profile.segment.churn_risk else None,
        },
        "identities": [
            {"platform": platform, "platform_user_id": user_id} for platform, user_id in identities
        ],
        "history": {
            "order_count": history.order_count,
            "repurchase_count": repurchase_count(history),
            "total_spent_cents": history.total_spent_cents,
            "first_order_at": _iso(history.first_order_at),
            "last_order_at": _iso(history.last_order_at),
            "last_items": list(history.last_items),
        },
        "orders": [
            {
                "order_id": order.order_id,
                "amount_cents": order.amount_cents,
                "status": order.status,
                "ordered_at": iso_local(order.ordered_at),
                "items": order.items,
            }
            for order in orders
        ],
        "points_balance": customer.points_balance,
        "do_not_greet": customer.do_not_greet,
        "do_not_contact": customer.do_not_contact,
        "last_seen_at": _iso(customer.last_seen_at),
        # 流失预警: level and reasons, or null when not at risk.
        "churn": warning.to_dict() if warning else None,
    }


class DoNotGreetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # null clears it.
    reason: DoNotGreetReason | None = Field(
        description="opted_out (客户不希望被点名), open_complaint (有未处理的投诉), "
        "refund_in_progress (退款处理中); null to greet them again"
    )


@router.put(
    "/{customer_id:int}/do-not-greet",
    response_model=DoNotGreetState,
    **AS_SHAPED,
    responses={**_AUTH_RESPONSES, 404: {"description": "No such customer"}},
)
async def set_do_not_greet(
    customer_id: CustomerId, body: DoNotGreetIn, session: SessionDep, operator: OpsOnly
) -> dict[str, Any]:
    """Keep a customer's name off the stream (every room, from their next sighting; a greeting
    already waiting for the host is withdrawn), or greet them again. Ops are told the reason
    whenever the customer is seen."""
    customer = await repo.root_customer(session, customer_id)
    if customer is None:
        raise ApiError(404, f"no customer {customer_id}")
    customer.do_not_greet = body.reason
    await commit(session)
    log.info(
        "operator %s set do_not_greet=%s for customer %s", operator.name, body.reason, customer.id
    )
    return {"id": customer.id, "do_not_greet": customer.do_not_greet}


class DoNotContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    do_not_contact: bool


@router.put(
    "/{customer_id:int}/do-not-contact",
    response_model=DoNotContactState,
    **AS_SHAPED,
    responses={**_AUTH_RESPONSES, 404: {"description": "No such customer"}},
)
async def set_do_not_contact(
    customer_id: CustomerId, body: DoNotContactIn, session: SessionDep, operator: OpsOnly
) -> dict[str, Any]:
    """The customer refused follow-up marketing (企业微信, SMS): they are left out of every
    marketing follow-up; after-sales still follows up their complaints."""
    customer = await repo.root_customer(session, customer_id)
    if customer is None:
        raise ApiError(404, f"no customer {customer_id}")
    customer.do_not_contact = body.do_not_contact
    await commit(session)
    log.info(
        "operator %s set do_not_contact=%s for customer %s",
        operator.name,
        body.do_not_contact,
        customer.id,
    )
    return {"id": customer.id, "do_not_contact": customer.do_not_contact}


@router.post(
    "/import",
    responses={
        **_AUTH_RESPONSES,
        400: {"description": "No file in the request"},
        413: {"description": "The file is too large for an upload"},
        422: {"description": "The header line is wrong; no row was read"},
        200: {"model": ImportReport, "description": "Every row imported or reported"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string", "minLength": 1}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
async def import_customers(
    request: Request,
    session: SessionDep,
    _operator: OpsOnly,
    dry_run: Annotated[
        bool, Query(description="Check and count everything, store nothing.")
    ] = False,
) -> JsonResponse:
    """Import a CRM file (docs/crm-import.md): a multipart `file` field or a text/csv body.

    Bad rows are reported (the first 100, with `error_count` for all) and never stop good
    ones; a re-run of the same file stores nothing twice.
    """
    # No transaction held (the sign-in check's) while the upload arrives and the import runs
    # in transactions of its own: the server ends one left idle that long.
    await session.rollback()
    with tempfile.TemporaryDirectory(prefix="livedesk-import-") as directory:
        path = Path(directory) / "upload.csv"
        name = await _receive(request, path)
        report = await import_csv(
            request.app.state.sessions, path, dry_run=dry_run, run_key=f"upload:{name}"
        )
    body = report.to_dict()
    if not report.header_ok:
        return JsonResponse(
            {"error": "the header line is wrong; nothing was imported", **body}, status_code=422
        )
    return JsonResponse(body)


async def _receive(request: Request, path: Path) -> str:
    """Spool the upload to `path` in chunks; returns the file's name for the progress key."""
    content_type = request.headers.get("content-type", "")
    with path.open("wb") as target:
        if content_type.startswith("multipart/form-data"):
            async with request.form() as form:
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    raise ApiError(400, 'send the CSV as a multipart field named "file"')
                size = 0
                while chunk := await upload.read(_COPY_CHUNK):
                    size += len(chunk)
                    _check_size(size)
                    target.write(chunk)
                return upload.filename or "upload.csv"
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            _check_size(size)
            target.write(chunk)
        if size == 0:
            raise ApiError(400, "the request has no CSV: send a text/csv body or a multipart file")
        return "body.csv"


def _check_size(size: int) -> None:
    if size > MAX_UPLOAD_BYTES:
        raise ApiError(413, "file too large for an upload; run `livedesk import-customers` instead")


def _iso(moment: datetime | None) -> str | None:
    return iso_local(moment) if moment is not None else None
