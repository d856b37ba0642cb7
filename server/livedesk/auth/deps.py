"""Who is calling: bearer token or session cookie, and role checks as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.auth import service
from livedesk.auth.models import Operator
from livedesk.core.deps import SessionDep
from livedesk.core.errors import ApiError


class LoginRequired(Exception):
    """Raised by page dependencies; the app answers with a redirect to /login."""

    def __init__(self, next_path: str):
        self.next_path = next_path


# The two ways to sign in, as security schemes: read here and declared in /openapi.json on
# every route that needs an operator (either one will do).
_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="operatorToken",
    description="An operator's token, as `livedesk user add` prints it",
)
_COOKIE = APIKeyCookie(
    name=service.SESSION_COOKIE,
    auto_error=False,
    scheme_name="sessionCookie",
    description="The session cookie that signing in at /login sets",
)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]
Cookie = Annotated[str | None, Security(_COOKIE)]


async def _resolve(session: AsyncSession, bearer: Bearer, cookie: Cookie) -> Operator | None:
    if bearer is not None:
        return await service.authenticate_token(session, bearer.credentials.strip())
    return await service.operator_for_session(session, cookie or "")


async def current_operator(session: SessionDep, bearer: Bearer, cookie: Cookie) -> Operator:
    operator = await _resolve(session, bearer, cookie)
    if operator is None:
        raise ApiError(401, "not signed in: send a bearer token or a session cookie")
    return operator


def require_roles(*roles: str) -> Callable[..., Awaitable[Operator]]:
    async def dependency(operator: Annotated[Operator, Depends(current_operator)]) -> Operator:
        if operator.role not in roles:
            raise ApiError(403, f"this needs the role {' or '.join(roles)}")
        return operator

    return dependency


OpsOnly = Annotated[Operator, Depends(require_roles("ops", "admin"))]
AnyOperator = Annotated[Operator, Depends(require_roles("host", "ops", "admin"))]


async def page_operator(
    request: Request, session: SessionDep, bearer: Bearer, cookie: Cookie
) -> Operator:
    """The signed-in operator of any role for a page, or a redirect to /login."""
    operator = await _resolve(session, bearer, cookie)
    if operator is None:
        raise LoginRequired(request.url.path)
    return operator
