"""/openapi.json tells the truth about errors: every status a route can answer, in the contract's
`{"error": "..."}` shape, documented in one place from what each operation is.

FastAPI documents a 422 of its own shape (`{"detail": [...]}`) and nothing else; livedesk's
handlers (core.errors) answer every refusal as `{"error": ...}`. Which refusals an operation
can give follows from the operation itself: signing in (401, 403), path parameters (404, 422),
other parameters (422), a body (400 when it cannot be read, 422), and the database (503).
Routes still document what is particular to them (a 409, a 413, their own words).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_REF = "#/components/schemas/Error"
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "What was wrong, for people"}},
    # Some refusals say more: `rejected` events, the `fields` and `banned` words of a 422.
    "additionalProperties": True,
}
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"

_DESCRIPTIONS = {
    400: "The body cannot be read: not UTF-8, not JSON, or not the expected kind",
    401: "Not signed in: send a bearer token or the session cookie",
    403: "Signed in, but this needs another role",
    404: "Nothing by that name here (room, campaign, claim, customer, platform…)",
    422: "A parameter or the body is invalid; `error` names the field",
    503: "The database cannot take the request now; retry after Retry-After",
}


def install(app: FastAPI) -> None:
    """Serve the documented schema as /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, routes=app.routes, servers=app.servers
            )
            app.openapi_schema = document_errors(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with each operation's possible error answers, all in the Error shape."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            for status in possible_errors(path, operation):
                responses.setdefault(str(status), {"description": _DESCRIPTIONS[status]})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    _error_content(response)
    if _FASTAPI_422 not in str(schema.get("paths")):  # every 422 is an Error now
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    return schema


def possible_errors(path: str, operation: dict[str, Any]) -> list[int]:
    """The refusals an operation can give, from what it is."""
    statuses: set[int] = set()
    places = {parameter.get("in") for parameter in operation.get("parameters", [])}
    if operation.get("security"):
        statuses |= {401, 403}
    if "path" in places:
        statuses |= {404, 422}
    if places - {"path", "cookie"}:
        statuses.add(422)
    if "requestBody" in operation:
        statuses |= {400, 422}
    if path.startswith("/api/"):
        statuses.add(503)
    return sorted(statuses)


def _error_content(response: dict[str, Any]) -> None:
    """A refusal's body is the Error shape, unless the route documents one of its own (a
    platform adapter answering in its platform's words)."""
    content = response.get("content")
    if content is None or _FASTAPI_422 in str(content):
        response["content"] = {"application/json": {"schema": {"$ref": ERROR_REF}}}
