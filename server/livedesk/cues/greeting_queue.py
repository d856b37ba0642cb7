"""The host's attention budget: `GreetingQueue` decides which greetings the host is shown, at
most `per_minute` lines a minute, the highest tier (then the biggest spender) first, one
greeting per customer per session, the overflow of a burst merged into one line, and customers
who must not be greeted routed to ops (their candidates: cues.greetings).

Everything here is pure: time is passed in, and the queue's state is a JSON-safe dict so a room
can move to another worker process (the caller stores it with the room).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from livedesk.cues.greetings import FLAG_LABELS, Flag, GreetingCandidate
from livedesk.customers.churn import LEVEL_LABELS
from livedesk.customers.churn import rank as churn_rank
from livedesk.customers.do_not_greet import LABELS as DO_NOT_GREET_LABELS
from livedesk.customers.do_not_greet import DoNotGreet
from livedesk.customers.profile import ChurnRisk
from livedesk.rulebook.greetings import GreetingRules, render_template

_MINUTE = timedelta(minutes=1)
_STATE_VERSION = 1


class Outcome(StrEnum):
    QUEUED = "queued"
    DUPLICATE = "duplicate"  # already greeted (or waiting) in this session
    DO_NOT_GREET = "do_not_greet"  # routed to ops, not shown to the host
    DROPPED = "dropped"  # the queue is full of customers who rank higher


@dataclass(frozen=True)
class OpsNotice:
    customer_id: str
    nickname: str
    kind: DoNotGreet | Flag
    text: str

    def to_dict(self) -> dict[str, str]:
        return {
            "customer_id": self.customer_id,
            "nickname": self.nickname,
            "kind": self.kind.value,
            "text": self.text,
        }


@dataclass(frozen=True)
class Offer:
    outcome: Outcome
    # For ops: why not to greet, and the flags (given once, when the customer first arrives).
    notices: tuple[OpsNotice, ...] = ()


@dataclass(frozen=True)
class Greeting:
    """One line on the teleprompter: a single customer, or several merged."""

    text: str
    customer_ids: tuple[str, ...]
    merged: bool
    tier_label: str | None = None
    scene: str | None = None
    flags: tuple[Flag, ...] = ()
    # For the teleprompter's badge and name line; a merged greeting lists the first names.
    nicknames: tuple[str, ...] = ()
    tier_id: str | None = None
    tier_priority: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "customer_ids": list(self.customer_ids),
            "merged": self.merged,
            "tier_label": self.tier_label,
            "tier_id": self.tier_id,
            "priority": self.tier_priority,
            "nickname": self.nicknames[0] if self.nicknames and not self.merged else None,
            "merged_names": list(self.nicknames) if self.merged else [],
            "merged_count": len(self.customer_ids) if self.merged else 0,
            "scene": self.scene,
            "flags": [flag.value for flag in self.flags],
        }


@dataclass
class _Waiting:
    candidate: GreetingCandidate
    offered_at: datetime


def _rank_key(waiting: _Waiting, win_back_first: bool) -> tuple[int, int, int, datetime, str]:
    """Best first: at churn risk (when the rules say so), tier, spend, then arrival."""
    candidate = waiting.candidate
    return (
        -churn_rank(candidate.churn_level) if win_back_first else 0,
        -candidate.tier_priority,
        -candidate.total_spent_cents,
        waiting.offered_at,
        candidate.customer_id,
    )


def _notices(candidate: GreetingCandidate) -> tuple[OpsNotice, ...]:
    notices: list[OpsNotice] = []
    if candidate.do_not_greet is not None:
        reason = DO_NOT_GREET_LABELS[candidate.do_not_greet]
        notices.append(
            OpsNotice(
                candidate.customer_id,
                candidate.nickname,
                candidate.do_not_greet,
                f"{candidate.nickname}进入直播间（{reason}），请勿点名",
            )
        )
    for flag in candidate.flags:
        why = FLAG_LABELS[flag]
        if flag is Flag.WIN_BACK and candidate.churn_level:
            level = LEVEL_LABELS[ChurnRisk(candidate.churn_level)]
            why = f"{why}（{level}：{candidate.churn_reason}）"
        notices.append(
            OpsNotice(
                candidate.customer_id,
                candidate.nickname,
                flag,
                f"{candidate.nickname}（{candidate.tier_label}）：{why}",
            )
        )
    return tuple(notices)


class GreetingQueue:
    """Per room and session. Not thread-safe: one room is handled by one task at a time."""

    def __init__(self, rules: GreetingRules) -> None:
        self.rules = rules
        self._waiting: dict[str, _Waiting] = {}
        # When each line of the last minute was shown (at most per_minute of them).
        self._shown_at: deque[datetime] = deque()
        # Customer -> when they were greeted (or routed to ops) in this session.
        self._greeted_at: dict[str, datetime] = {}
        self.expired_count = 0
        self.dropped_count = 0

    @property
    def waiting_count(self) -> int:
        return len(self._waiting)

    def offer(self, candidate: GreetingCandidate, now: datetime) -> Offer:
        customer_id = candidate.customer_id
        if customer_id in self._waiting or self._already_greeted(customer_id, now):
            return Offer(Outcome.DUPLICATE)
        notices = _notices(candidate)
        if candidate.do_not_greet is not None:
            self._greeted_at[customer_id] = now  # one notice per session, not one per entry
            return Offer(Outcome.DO_NOT_GREET, notices)
        waiting = _Waiting(candidate, now)
        if len(self._waiting) >= self.rules.queue.max_pending:
            lowest = max(self._waiting.values(), key=self._rank_key)
            if self._rank_key(waiting) >= self._rank_key(lowest):
                self.dropped_count += 1
                return Offer(Outcome.DROPPED, notices)
            del self._waiting[lowest.candidate.customer_id]
            self.dropped_count += 1
        self._waiting[customer_id] = waiting
        return Offer(Outcome.QUEUED, notices)

    def _rank_key(self, waiting: _Waiting) -> tuple[int, int, int, datetime, str]:
        return _rank_key(waiting, self.rules.queue.win_back_first)

    def waiting_ids(self) -> list[str]:
        return list(self._waiting)

    def withdraw(self, customer_id: str) -> bool:
        """Take back a waiting greeting (a complaint or refund just opened); True if one was."""
        return self._waiting.pop(customer_id, None) is not None

    def drain(self, now: datetime) -> list[Greeting]:
        """The lines to show now, best first; call it on every offer and on a timer."""
        rules = self.rules.queue
        max_wait = timedelta(seconds=rules.max_wait_s)
        for customer_id, waiting in list(self._waiting.items()):
            if now - waiting.offered_at > max_wait:
                del self._waiting[customer_id]
                self.expired_count += 1
        while self._shown_at and now - self._shown_at[0] >= _MINUTE:
            self._shown_at.popleft()
        if not self._waiting:
            return []
        oldest = min(waiting.offered_at for waiting in self._waiting.values())
        if now - oldest < timedelta(seconds=rules.burst_window_s):
            return []  # let the burst gather, so it is ranked as a whole
        slots = rules.per_minute - len(self._shown_at)
        if slots <= 0:
            return []
        ranked = sorted(self._waiting.values(), key=self._rank_key)
        if len(ranked) <= slots:
            singles, merged = ranked, []
        else:
            singles, merged = ranked[: slots - 1], ranked[slots - 1 :]
        greetings = [self._single(waiting.candidate) for waiting in singles]
        if merged:
            greetings.append(self._merged([waiting.candidate for waiting in merged]))
        for waiting in ranked:
            del self._waiting[waiting.candidate.customer_id]
            self._greeted_at[waiting.candidate.customer_id] = now
        self._shown_at.extend([now] * len(greetings))
        return greetings

    def next_drain_at(self) -> datetime | None:
        """When `drain` may next return something (None: nothing waits), for the room's timer."""
        if not self._waiting:
            return None
        oldest = min(waiting.offered_at for waiting in self._waiting.values())
        due = oldest + timedelta(seconds=self.rules.queue.burst_window_s)
        per_minute = self.rules.queue.per_minute
        if len(self._shown_at) >= per_minute:
            due = max(due, self._shown_at[len(self._shown_at) - per_minute] + _MINUTE)
        return due

    def _already_greeted(self, customer_id: str, now: datetime) -> bool:
        greeted_at = self._greeted_at.get(customer_id)
        if greeted_at is None:
            return False
        if self.rules.queue.once_per_session:
            return True
        return now - greeted_at < timedelta(seconds=self.rules.queue.regreet_after_s)

    @staticmethod
    def _single(candidate: GreetingCandidate) -> Greeting:
        return Greeting(
            text=candidate.text,
            customer_ids=(candidate.customer_id,),
            merged=False,
            tier_label=candidate.tier_label,
            scene=candidate.scene,
            flags=candidate.flags,
            nicknames=(candidate.nickname,),
            tier_id=candidate.tier_id,
            tier_priority=candidate.tier_priority,
        )

    def _merged(self, candidates: list[GreetingCandidate]) -> Greeting:
        merge = self.rules.queue.merge
        names = merge.separator.join(c.nickname for c in candidates[: merge.names])
        text = render_template(merge.template, {"names": names, "count": str(len(candidates))})
        return Greeting(
            text=text,
            customer_ids=tuple(c.customer_id for c in candidates),
            merged=True,
            nicknames=tuple(c.nickname for c in candidates[: merge.names]),
        )

    # --- state between worker processes ---

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state; `from_dict(to_dict())` behaves exactly like this queue."""
        return {
            "version": _STATE_VERSION,
            "waiting": [
                {"candidate": w.candidate.to_dict(), "offered_at": w.offered_at.isoformat()}
                for w in self._waiting.values()
            ],
            "shown_at": [moment.isoformat() for moment in self._shown_at],
            "greeted_at": {key: moment.isoformat() for key, moment in self._greeted_at.items()},
            "expired_count": self.expired_count,
            "dropped_count": self.dropped_count,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], rules: GreetingRules) -> GreetingQueue:
        if data.get("version") != _STATE_VERSION:
            raise ValueError(f"unknown greeting queue state version {data.get('version')!r}")
        queue = cls(rules)
        for item in data["waiting"]:
            candidate = GreetingCandidate.from_dict(item["candidate"])
            offered_at = datetime.fromisoformat(item["offered_at"])
            queue._waiting[candidate.customer_id] = _Waiting(candidate, offered_at)
        queue._shown_at.extend(datetime.fromisoformat(moment) for moment in data["shown_at"])
        queue._greeted_at.update(
            {key: datetime.fromisoformat(moment) for key, moment in data["greeted_at"].items()}
        )
        queue.expired_count = int(data["expired_count"])
        queue.dropped_count = int(data["dropped_count"])
        return queue
