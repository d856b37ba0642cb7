"""Platform-delivery health: how fast webhooks are answered, against each platform's budget.

Douyin stops pushing to an endpoint after 10 answers slower than 2 s, WeChat counts an answer
after 5 s as a failure, so ops should see each platform's ack p99 long before it nears that
platform's budget. Each worker keeps its own answers of the last minute (`AckWindow`); every
second it shares its figures — the server's and each platform's — on the bus, and each worker
reports the worst fresh figure among them (`DeliveryBoard`): one slow worker is enough to lose
data. Acks are not per room (one request may carry several rooms), so the figures are the
whole server's; a room's KPIs show those of the platforms that feed it.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from livedesk.core.bus import Bus
from livedesk.core.jsonutil import dumps, loads
from livedesk.core.tasks import cancel_and_wait, restarting

log = logging.getLogger(__name__)

BUDGET_MS = 2000  # Douyin's answer budget: the strictest, for the server-wide figure
# Each platform's own answer budget. Documented: Douyin's live push 2 s; WeChat (微信小店) 5 s;
# the Douyin open platform 5 s. Assumed (no published figure found): 抖店, Kuaishou and the
# generic format get Douyin's 2 s, the strictest known.
PLATFORM_BUDGETS_MS = {
    "douyin": 2000,
    "douyin_open": 5000,
    "wechat_shop": 5000,
    "doudian": 2000,
    "kuaishou": 2000,
    "generic": 2000,
}
OTHER = "other"  # a webhook path that is none of the above (bounded labels)
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


def platform_of(name: str) -> str:
    return name if name in PLATFORM_BUDGETS_MS else OTHER


def platform_dict(platform: str, figure: Delivery) -> dict[str, Any]:
    """One platform's figure for the KPI message, against that platform's own budget."""
    budget = PLATFORM_BUDGETS_MS.get(platform, BUDGET_MS)
    p99 = figure.ack_p99_ms
    return {
        "ack_p99_ms": p99,
        "budget_ms": budget,
        "errors_1m": figure.errors_1m,
        "over_budget": p99 is not None and p99 > budget,
    }


def _coarse_ms(seconds: float) -> int:
    """Two significant figures (38, 120, 1800 ms): steady enough not to churn the KPI frame."""
    return max(1, round(float(f"{seconds * 1000:.2g}")))


class AckWindow:
    """This process's webhook answers of the last minute: (when, seconds, status, platform),
    bounded."""

    def __init__(
        self,
        *,
        window_s: float = WINDOW_S,
        max_samples: int = MAX_SAMPLES,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._window_s = window_s
        self._clock = clock
        self._answers: deque[tuple[float, float, int, str]] = deque(maxlen=max_samples)

    def record(self, seconds: float, status: int, platform: str = "generic") -> None:
        self._answers.append((self._clock(), seconds, status, platform_of(platform)))

    def figure(self) -> Delivery:
        return self._figure_of(self._fresh())

    def platform_figures(self) -> dict[str, Delivery]:
        """Each platform that was answered in the window, on its own."""
        by_platform: dict[str, list[tuple[float, float, int, str]]] = {}
        for answer in self._fresh():
            by_platform.setdefault(answer[3], []).append(answer)
        return {name: self._figure_of(answers) for name, answers in by_platform.items()}

    def _fresh(self) -> deque[tuple[float, float, int, str]]:
        cutoff = self._clock() - self._window_s
        answers = self._answers
        while answers and answers[0][0] < cutoff:
            answers.popleft()
        return answers

    def _figure_of(self, answers: Sequence[tuple[float, float, int, str]]) -> Delivery:
        if not answers:
            return Delivery(None, 0)
        # Nearest-rank p99: the fastest of the slowest n - ceil(0.99 n) + 1 answers.
        n = len(answers)
        slowest = heapq.nlargest(n - math.ceil(0.99 * n) + 1, (a[1] for a in answers))
        recent = self._clock() - INCIDENT_WINDOW_S
        errors = [at for at, _s, status, _p in answers if status >= 500]
        return Delivery(_coarse_ms(slowest[-1]), len(errors), sum(at >= recent for at in errors))


class DeliveryBoard:
    """The worst fresh figure over every worker, in `current`; this worker's own (if it answers
    webhooks: `acks`) shared on the bus each second."""

    def __init__(self, acks: AckWindow | None, bus: Bus, *, interval_s: float = SHARE_INTERVAL_S):
        self._acks = acks
        self._bus = bus
        self._interval_s = interval_s
        self._worker = uuid.uuid4().hex
        self._figures: dict[str, tuple[float, Delivery, dict[str, Delivery]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.current = Delivery(None, 0)
        self.platforms: dict[str, Delivery] = {}  # the same, per platform

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._listen(), name="delivery-listen")]
        if self._acks is not None:
            self._tasks.append(asyncio.create_task(self._share(self._acks), name="delivery-share"))

    async def close(self) -> None:
        await cancel_and_wait(self._tasks)

    def note(
        self, worker: str, figure: Delivery, platforms: dict[str, Delivery] | None = None
    ) -> None:
        now = time.monotonic()
        self._figures[worker] = (now, figure, platforms or {})
        self._figures = {w: v for w, v in self._figures.items() if now - v[0] <= STALE_AFTER_S}
        self.current = _worst([f for _at, f, _p in self._figures.values()])
        names = {name for _at, _f, by in self._figures.values() for name in by}
        self.platforms = {
            name: _worst([by[name] for _at, _f, by in self._figures.values() if name in by])
            for name in sorted(names)
        }

    def for_platforms(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The KPI message's `delivery_platforms`: each named platform against its own budget
        (`ack_p99_ms` None when none of its webhooks was answered in the last minute)."""
        return {
            name: platform_dict(name, self.platforms.get(name, Delivery(None, 0))) for name in names
        }

    async def _share(self, acks: AckWindow) -> None:
        while True:
            figure = acks.figure()
            platforms = acks.platform_figures()
            self.note(self._worker, figure, platforms)
            message = {
                "worker": self._worker,
                **figure.to_dict(),
                "platforms": {name: f.to_dict() for name, f in platforms.items()},
            }
            await self._bus.publish(CHANNEL, dumps(message))
            await asyncio.sleep(self._interval_s)

    async def _listen(self) -> None:
        async def listen() -> None:
            async with self._bus.subscribe(CHANNEL) as subscription:
                async for _channel, raw in subscription:
                    message = loads(raw)
                    if message["worker"] != self._worker:
                        platforms = {
                            name: _delivery(value)
                            for name, value in message.get("platforms", {}).items()
                        }
                        self.note(message["worker"], _delivery(message), platforms)

        await restarting("delivery figures listener", listen)


def _delivery(shared: dict[str, Any]) -> Delivery:
    return Delivery(shared["ack_p99_ms"], shared["errors_1m"], shared.get("errors_10s", 0))


def _worst(figures: Sequence[Delivery]) -> Delivery:
    """Over workers: the slowest p99 (one slow worker loses data), every worker's errors."""
    p99s = [f.ack_p99_ms for f in figures if f.ack_p99_ms is not None]
    return Delivery(
        max(p99s, default=None),
        sum(f.errors_1m for f in figures),
        sum(f.errors_10s for f in figures),
    )
