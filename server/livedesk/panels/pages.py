"""HTML pages: login, rooms overview, host teleprompter, ops console and the session report.

Pages are thin shells: the browser fetches data from the JSON API and the live channel, so
the pages only decide who may see what. Every page carries a strict Content-Security-Policy
(no inline script, same-origin only), which is why all behaviour lives in static JS files.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from livedesk.auth import service as auth
from livedesk.auth.deps import page_operator
from livedesk.auth.models import Operator
from livedesk.core.assets import asset_dir
from livedesk.core.db import commit
from livedesk.core.deps import SessionDep, SettingsDep
from livedesk.rooms.models import Room

router = APIRouter(include_in_schema=False)

ROLE_LABELS = {"host": "主播", "ops": "运营", "admin": "管理员"}
HOST_ROLES = ("host", "ops", "admin")
OPS_ROLES = ("ops", "admin")

# One policy for every page. Styles allow 'unsafe-inline' only because ECharts sets element
# styles on its own nodes; scripts are never inline and never from another origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)
# frame-ancestors is ignored in a <meta> policy, so the header version adds it.
SECURITY_HEADERS = {
    "Content-Security-Policy": f"{CONTENT_SECURITY_POLICY}; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Pages name the signed-in operator: never serve them from a shared cache.
    "Cache-Control": "no-store",
}

PageOperator = Annotated[Operator, Depends(page_operator)]


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    engine = Jinja2Templates(directory=asset_dir("templates"))
    engine.env.globals["content_security_policy"] = CONTENT_SECURITY_POLICY
    engine.env.globals["role_labels"] = ROLE_LABELS
    return engine


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    response = templates().TemplateResponse(
        request, name, {"operator": None, **(context or {})}, status_code=status_code
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def safe_next(candidate: str | None) -> str:
    """Only a local path may be a redirect target: no scheme, no host, no `//evil`."""
    if not candidate or not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
        return "/"
    if any(ord(char) < 0x20 or char == "\\" for char in candidate):
        return "/"
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return "/"
    return candidate


async def landing_path(session: SessionDep, operator: Operator) -> str:
    """Where a sign-in without a destination lands: the operator's panel of the room on air
    (the most recently active live room, or opened by 开播 before its first event); the rooms
    overview when none is."""
    room_id = await session.scalar(
        select(Room.id)
        .where(Room.status == "live")
        .order_by(func.coalesce(Room.last_event_at, Room.created_at).desc())
        .limit(1)
    )
    if room_id is None:
        return "/"
    panel = "host" if operator.role == "host" else "ops"
    return f"/{panel}/{quote(room_id, safe='')}"


def forbidden(request: Request, operator: Operator, allowed: tuple[str, ...]) -> HTMLResponse:
    context = {"operator": operator, "allowed_roles": allowed}
    return render(request, "forbidden.html", context, status_code=403)


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", {"next_path": safe_next(next), "error": None})


@router.post("/login")
async def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    operator = await auth.authenticate_token(session, token.strip())
    if operator is None:
        context = {"next_path": safe_next(next), "error": "令牌无效"}
        return render(request, "login.html", context, status_code=401)
    session_id = await auth.open_session(session, operator, settings.session_ttl_s)
    await commit(session)
    target = safe_next(next)
    if target == "/":
        target = await landing_path(session, operator)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        session_id,
        max_age=settings.session_ttl_s,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    session_id = request.cookies.get(auth.SESSION_COOKIE, "")
    if session_id:
        await auth.close_session(session, session_id)
        await commit(session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


@router.get("/")
async def rooms_overview(request: Request, operator: PageOperator) -> HTMLResponse:
    return render(request, "index.html", {"operator": operator})


@router.get("/host/{room_id}")
async def host_page(request: Request, room_id: str, operator: PageOperator) -> HTMLResponse:
    if operator.role not in HOST_ROLES:
        return forbidden(request, operator, HOST_ROLES)
    return render(request, "host.html", {"operator": operator, "room_id": room_id})


@router.get("/ops/{room_id}")
async def ops_page(
    request: Request, room_id: str, session: SessionDep, operator: PageOperator
) -> HTMLResponse:
    """The console; of a room no event has created yet too (ops press 开播 there first)."""
    if operator.role not in OPS_ROLES:
        return forbidden(request, operator, OPS_ROLES)
    exists = await session.scalar(select(Room.id).where(Room.id == room_id)) is not None
    context = {"operator": operator, "room_id": room_id, "room_exists": exists}
    return render(request, "ops.html", context)


@router.get("/rooms/{room_id}/after")
async def after_page(request: Request, room_id: str, operator: PageOperator) -> HTMLResponse:
    """下播后: comparison, retention and the follow-up list of a session."""
    if operator.role not in OPS_ROLES:
        return forbidden(request, operator, OPS_ROLES)
    return render(request, "after.html", {"operator": operator, "room_id": room_id})


@router.get("/customers/churn")
async def churn_page(request: Request, operator: PageOperator) -> HTMLResponse:
    """流失预警: customers at churn risk."""
    if operator.role not in OPS_ROLES:
        return forbidden(request, operator, OPS_ROLES)
    return render(request, "churn.html", {"operator": operator})


@router.get("/rooms/{room_id}/report")
async def report_page(request: Request, room_id: str, operator: PageOperator) -> HTMLResponse:
    if operator.role not in OPS_ROLES:
        return forbidden(request, operator, OPS_ROLES)
    return render(request, "report.html", {"operator": operator, "room_id": room_id})
