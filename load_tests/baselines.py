"""Baselines measured in the same run as livedesk, so ratios hold on a noisy machine.

- `app`: a bare ASGI endpoint that reads the body and answers 202 — what the webhook path
  costs with nothing behind it (run under uvicorn, like livedesk).
- `broadcast`: a `websockets` server that fans each message out with `websockets.broadcast()`
  at a given rate and size — what fan-out costs with nothing in front of it.

    .venv/bin/python load_tests/baselines.py broadcast --port P --rate R --size BYTES
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, broadcast, serve


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    status = 202 if scope["method"] == "POST" else 200
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b'{"accepted":0}'})


async def fan_out(port: int, rate: float, size: int) -> None:
    clients: set[ServerConnection] = set()

    async def handler(connection: ServerConnection) -> None:
        clients.add(connection)
        try:
            await connection.wait_closed()
        finally:
            clients.discard(connection)

    async with serve(handler, "127.0.0.1", port, max_size=None):
        padding = "x" * max(0, size - 40)
        seq = 0
        started = time.perf_counter()
        while True:
            seq += 1
            await asyncio.sleep(max(0.0, started + seq / rate - time.perf_counter()))
            message = orjson.dumps({"seq": seq, "sent": time.time(), "pad": padding}).decode()
            broadcast(clients, message)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["broadcast"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--size", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(fan_out(args.port, args.rate, args.size))
