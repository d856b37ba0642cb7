"""Read a request body without ever holding more than the limit in memory."""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    """The body is over `max_bytes`; answer 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"body is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


async def read_limited_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, or `BodyTooLarge` as soon as it is known to exceed `max_bytes`.

    A declared Content-Length over the limit fails before reading anything; a lying
    Content-Length or a chunked body fails on the first chunk that crosses the limit.
    """
    declared = request.headers.get("content-length")
    # isascii: header bytes arrive as latin-1, and "²".isdigit() is True but int() rejects it.
    if declared and declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(max_bytes)
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > max_bytes:
            raise BodyTooLarge(max_bytes)
    return bytes(received)
