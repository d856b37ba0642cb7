"""orjson in one place: bytes out, str for websocket text frames."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def dumps_str(value: Any) -> str:
    return dumps(value).decode()


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)


class JsonResponse(Response):
    """A JSON response rendered with orjson (FastAPI's JsonResponse is deprecated)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)
