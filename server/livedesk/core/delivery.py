"""Platform-delivery health: how fast webhooks are answered, against Douyin's 2 s budget.

Douyin stops pushing to an endpoint after 10 answers slower than 2 s, so ops should see the
ack p99 long before it gets near. Each worker keeps its own answers of the last minute
(`AckWindow`); every second it shares its figure on the bus, and each worker reports the worst
fresh figure among them (`DeliveryBoard`): one slow worker is enough to lose data. Acks are not
per room (one request may carry several rooms), so the figure is for the whole server.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from livedesk.core.bus import Bus
from livedesk.core.jsonutil import dumps, loads
from livedesk.core.tasks import cancel_and_wait, raise_if_cancelling

log = logging.getLogger(__name__)

BUDGET_MS = 2000  # Douyin's answer budget
WINDOW_S = 60.0
# Bounds memory and the p99's cost (a partial sort once a second); past this many answers a
# minute the window covers the most recent ones only.
MAX_SAMPLES = 20_000
SHARE_INTERVAL_S = 1.0
STALE_AFTER_S = 5.0  # a worker silent this long has stopped (or lost the bus): ignore it
INCIDENT_WINDOW_S = 10.0  # 5xx answers this recent mean an incident going on now
CHANNEL = "livedesk:delivery"


@dataclass(frozen=True)
class Delivery:
    ack_p99_ms: int | None  # None: no webhook answered in the window
    errors_1m: int  # answers with a 5xx status (503: the database could not take the write)
    errors_10s: int = 0  # of those, the last INCIDENT_WINDOW_S: an incident going on now

    def to_dict(self) -> dict[str, Any]:
        return {
            "ack_p99_ms": self.ack_p99_ms,
            "budget_ms": BUDGET_MS,
            "errors_1m": self.errors_1m,
            "errors_10s": self.errors_10s,
        }


def _coarse_ms(seconds: float) -> int:
    """Two significant figures (38, 120, 1800 ms): steady enough not to churn the KPI frame."""
    return max(1, round(float(f"{seconds * 1000:.2g}")))


class AckWindow:
    """This process's webhook answers of the last minute: (when, seconds, status), bounded."""

    def __init__(
        self,
        *,
        window_s: float = WINDOW_S,
        max_samples: int = MAX_SAMPLES,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._window_s = window_s
        self._clock = clock
        self._answers: deque[tuple[float, float, int]] = deque(maxlen=max_samples)

    def record(self, seconds: float, status: int) -> None:
        self._answers.append((self._clock(), seconds, status))

    def figure(self) -> Delivery:
        cutoff = self._clock() - self._window_s
        answers = self._answers
        while answers and answers[0][0] < cutoff:
            answers.popleft()
        if not answers:
            return Delivery(None, 0)
        # Nearest-rank p99: the fastest of the slowest n - ceil(0.99 n) + 1 answers.
        n = len(answers)
        slowest = heapq.nlargest(n - math.ceil(0.99 * n) + 1, (s for _at, s, _st in answers))
        recent = self._clock() - INCIDENT_WINDOW_S
        errors = [at for at, _s, status in answers if status >= 500]
        return Delivery(_coarse_ms(slowest[-1]), len(errors), sum(at >= recent for at in errors))


class DeliveryBoard:
    """The worst fresh figure over every worker, in `current`; this worker's own (if it answers
    webhooks: `acks`) shared on the bus each second."""

    def __init__(self, acks: AckWindow | None, bus: Bus, *, interval_s: float = SHARE_INTERVAL_S):
        self._acks = acks
        self._bus = bus
        self._interval_s = interval_s
        self._worker = uuid.uuid4().hex
        self._figures: dict[str, tuple[float, Delivery]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.current = Delivery(None, 0)

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._listen(), name="delivery-listen")]
        if self._acks is not None:
            self._tasks.append(asyncio.create_task(self._share(self._acks), name="delivery-share"))

    async def close(self) -> None:
        await cancel_and_wait(self._tasks)

    def note(self, worker: str, figure: Delivery) -> None:
        now = time.monotonic()
        self._figures[worker] = (now, figure)
        self._figures = {w: v for w, v in self._figures.items() if now - v[0] <= STALE_AFTER_S}
        fresh = [f for _at, f in self._figures.values()]
        p99s = [f.ack_p99_ms for f in fresh if f.ack_p99_ms is not None]
        self.current = Delivery(
            max(p99s, default=None),
            sum(f.errors_1m for f in fresh),
            sum(f.errors_10s for f in fresh),
        )

    async def _share(self, acks: AckWindow) -> None:
        while True:
            figure = acks.figure()
            self.note(self._worker, figure)
            message = {"worker": self._worker, **figure.to_dict()}
            await self._bus.publish(CHANNEL, dumps(message))
            await asyncio.sleep(self._interval_s)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._bus.subscribe(CHANNEL) as subscription:
                    async for _channel, raw in subscription:
                        message = loads(raw)
                        if message["worker"] != self._worker:
                            figure = Delivery(
                                message["ack_p99_ms"],
                                message["errors_1m"],
                                message.get("errors_10s", 0),
                            )
                            self.note(message["worker"], figure)
            except asyncio.CancelledError:
                raise
            except Exception:
                raise_if_cancelling()
                log.exception("delivery figures listener failed; restarting")
                await asyncio.sleep(1)
