"""Who is calling: bearer token or session cookie, and role checks as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from livedesk.auth import service
from livedesk.auth.models import Operator
from livedesk.core.deps import SessionDep
from livedesk.core.errors import ApiError


class LoginRequired(Exception):
    """Raised by page dependencies; the app answers with a redirect to /login."""

    def __init__(self, next_path: str):
        self.next_path = next_path


async def _resolve(request: Request, session: SessionDep) -> Operator | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return await service.authenticate_token(session, header[7:].strip())
    cookie = request.cookies.get(service.SESSION_COOKIE, "")
    return await service.operator_for_session(session, cookie)


async def current_operator(request: Request, session: SessionDep) -> Operator:
    operator = await _resolve(request, session)
    if operator is None:
        raise ApiError(401, "not signed in: send a bearer token or a session cookie")
    return operator


def require_roles(*roles: str) -> Callable[..., Awaitable[Operator]]:
    async def dependency(operator: Annotated[Operator, Depends(current_operator)]) -> Operator:
        if operator.role not in roles:
            raise ApiError(403, f"this needs the role {' or '.join(roles)}")
        return operator

    return dependency


CurrentOperator = Annotated[Operator, Depends(current_operator)]
OpsOnly = Annotated[Operator, Depends(require_roles("ops", "admin"))]
AnyOperator = Annotated[Operator, Depends(require_roles("host", "ops", "admin"))]


async def page_operator(request: Request, session: SessionDep) -> Operator:
    """The signed-in operator of any role for a page, or a redirect to /login."""
    operator = await _resolve(request, session)
    if operator is None:
        raise LoginRequired(request.url.path)
    return operator
