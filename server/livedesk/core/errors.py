"""Errors that endpoints raise, and the handlers that turn every refusal — ours, FastAPI's and
Starlette's — into the contract's `{"error": "..."}` JSON with the right status."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from livedesk.core.jsonutil import JsonResponse
from livedesk.core.text import unstorable


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra
        self.headers: dict[str, str] = {}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]


async def _api_error(_request: Request, exc: ApiError) -> Response:
    return JsonResponse(
        {"error": exc.message, **exc.extra}, status_code=exc.status, headers=exc.headers
    )


async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    if first["type"] == "json_invalid":  # the contract: a body that is not JSON is a 400
        return JsonResponse({"error": "the body is not valid JSON"}, status_code=400)
    loc = tuple(first["loc"])
    if first["type"] == "missing" and loc[:1] == ("header",):  # Idempotency-Key: malformed
        return JsonResponse({"error": f"the {loc[-1]} header is required"}, status_code=400)
    where = ".".join(str(part) for part in loc)
    return JsonResponse({"error": f"{where}: {first['msg']}"}, status_code=422)


_MESSAGES = {
    400: "the body cannot be read (not UTF-8 JSON?)",  # FastAPI: "error parsing the body"
    404: "not found",
}


async def _http_error(request: Request, exc: HTTPException) -> Response:
    """FastAPI's and Starlette's own refusals (no route, wrong method, unreadable body). A
    method the path does not take is a 405 naming the ones it does (Starlette would name those
    of the first route that matched the path only); OPTIONS is answered with them, 204."""
    if exc.status_code == 405:
        allowed = ", ".join(allowed_methods(request.app.routes, request.scope))
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allowed})
        return JsonResponse(
            {"error": f"{request.method} is not allowed here; allowed: {allowed}"},
            status_code=405,
            headers={"Allow": allowed},
        )
    if exc.status_code == 404 and (why := unstorable(request.scope["path"], "path")):
        # A NUL in a typed segment ({customer_id:int}) keeps the route from matching: the
        # contract answers text livedesk cannot store with a 422 naming where it was.
        return JsonResponse({"error": why}, status_code=422)
    message = _MESSAGES.get(exc.status_code, str(exc.detail))
    return JsonResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> list[str]:
    """The methods of the path the URL names: of the routes matching it, those with the most
    literal path (`/customers/import` rather than `/customers/{customer_id}`), as documented."""
    by_path: dict[str, set[str]] = {}
    for route in iter_route_contexts(routes):  # included routers' routes too
        methods, path = route.methods, route.path_format
        if methods and path and route.matches(scope)[0] != Match.NONE:
            by_path.setdefault(path, set()).update(methods)
    if not by_path:
        return []
    path = min(by_path, key=lambda template: template.count("{"))
    return sorted(by_path[path] - {"HEAD"})
