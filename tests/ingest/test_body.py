from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from livedesk.ingest.body import BodyTooLarge, read_limited_body

LIMIT_BYTES = 1024 * 1024
CHUNK_BYTES = 64 * 1024
HUGE_BYTES = 5 * 1024 * 1024


async def _echo_size(request: Request) -> JSONResponse:
    try:
        body = await read_limited_body(request, LIMIT_BYTES)
    except BodyTooLarge as exc:
        return JSONResponse({"error": str(exc)}, status_code=413)
    return JSONResponse({"size": len(body), "head": body[:16].decode("latin-1")})


app = Starlette(routes=[Route("/in", _echo_size, methods=["POST"])])


class CountingBody:
    """A streamed request body that records how much of it the server pulled."""

    def __init__(self, total_bytes: int, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.total_bytes = total_bytes
        self.chunk_bytes = chunk_bytes
        self.yielded_bytes = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.yielded_bytes < self.total_bytes:
            size = min(self.chunk_bytes, self.total_bytes - self.yielded_bytes)
            self.yielded_bytes += size
            yield b"x" * size


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_small_body_is_returned_whole(client: httpx.AsyncClient) -> None:
    response = await client.post("/in", content=b'{"id": "e1"}')
    assert response.status_code == 200
    assert response.json() == {"size": 12, "head": '{"id": "e1"}'}


async def test_exactly_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/in", content=b"a" * LIMIT_BYTES)
    assert response.json()["size"] == LIMIT_BYTES


async def test_one_byte_over_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post("/in", content=b"a" * (LIMIT_BYTES + 1))
    assert response.status_code == 413


async def test_streamed_body_under_limit_is_joined(client: httpx.AsyncClient) -> None:
    body = CountingBody(LIMIT_BYTES - 10, chunk_bytes=1000)
    response = await client.post("/in", content=body)
    assert response.json()["size"] == LIMIT_BYTES - 10
    assert body.yielded_bytes == LIMIT_BYTES - 10


async def test_declared_length_over_limit_fails_before_reading(
    client: httpx.AsyncClient,
) -> None:
    body = CountingBody(HUGE_BYTES)
    response = await client.post("/in", content=body, headers={"Content-Length": str(HUGE_BYTES)})
    assert response.status_code == 413
    assert body.yielded_bytes == 0


async def test_chunked_body_stops_at_the_limit(client: httpx.AsyncClient) -> None:
    body = CountingBody(HUGE_BYTES)
    response = await client.post("/in", content=body)
    assert response.status_code == 413
    # The server stopped pulling at the first chunk that crossed the limit.
    assert body.yielded_bytes == LIMIT_BYTES + CHUNK_BYTES
    assert body.yielded_bytes < HUGE_BYTES


async def test_lying_content_length_is_not_trusted(client: httpx.AsyncClient) -> None:
    body = CountingBody(HUGE_BYTES)
    response = await client.post("/in", content=body, headers={"Content-Length": "100"})
    assert response.status_code == 413
    assert body.yielded_bytes == LIMIT_BYTES + CHUNK_BYTES


async def test_garbage_content_length_falls_back_to_streaming(
    client: httpx.AsyncClient,
) -> None:
    for declared in [b"abc", "²".encode("latin-1"), b"-5"]:
        response = await client.post("/in", content=b"hello", headers={b"Content-Length": declared})
        assert response.json()["size"] == 5, declared
