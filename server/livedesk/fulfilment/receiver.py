"""A reference receiver for livedesk's fulfilment webhooks, as a brand's system would write one:
check the Standard Webhooks signature over the raw body, then act once per `webhook-id` and
acknowledge repeats without acting again. `make demo` runs it on its own port; tests use it.

Run alone: `uvicorn --factory livedesk.fulfilment.receiver:demo_app --port 8001`
(signing secret from `LIVEDESK_FULFILMENT_SECRET`, the demo one in demo mode).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from livedesk.core.jsonutil import loads
from livedesk.core.settings import Settings
from livedesk.ingest.signing import SignatureError, standard_secret_key, verify_standard

PATH = "/fulfilment"
MAX_BODY_BYTES = 1024 * 1024


class Receiver:
    """Verifies, dedupes and remembers the last `remember` messages (oldest forgotten first)."""

    def __init__(self, secret: str, *, tolerance_s: int = 300, remember: int = 100_000):
        standard_secret_key(secret)
        self.secret = secret
        self.tolerance_s = tolerance_s
        self.remember = remember
        self.messages: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.duplicates = 0
        self.rejected = 0

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            self.rejected += 1
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            verify_standard(
                self.secret, request.headers, body, now_s=time.time(), tolerance_s=self.tolerance_s
            )
        except SignatureError as exc:
            self.rejected += 1
            return JSONResponse({"error": exc.reason}, status_code=401)
        webhook_id = request.headers["webhook-id"]
        if webhook_id in self.messages:
            self.duplicates += 1
            return JSONResponse({"status": "duplicate"})
        try:
            envelope = loads(body)
        except ValueError:
            self.rejected += 1
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        self.messages[webhook_id] = envelope
        while len(self.messages) > self.remember:
            self.messages.popitem(last=False)
        return JSONResponse({"status": "accepted"})

    async def summary(self, _request: Request) -> Response:
        recent = list(self.messages.items())[-20:]
        return JSONResponse(
            {
                "received": len(self.messages),
                "duplicates": self.duplicates,
                "rejected": self.rejected,
                "recent": [{"webhook_id": key, **value} for key, value in reversed(recent)],
            }
        )


def create_app(receiver: Receiver) -> Starlette:
    app = Starlette(
        routes=[
            Route(PATH, receiver.receive, methods=["POST"]),
            Route("/", receiver.summary, methods=["GET"]),
        ]
    )
    app.state.receiver = receiver
    return app


def demo_app() -> Starlette:
    secret = Settings().fulfilment_signing_secret()
    if secret is None:
        raise SystemExit("set LIVEDESK_FULFILMENT_SECRET (or LIVEDESK_DEMO_MODE=1)")
    return create_app(Receiver(secret))
