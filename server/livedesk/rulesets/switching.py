"""Which rulebook applies to a room at this point of its event stream: the one place that answers.

An apply (`livedesk rules apply`, `POST /api/v1/rules/apply`) only records a validated version
as the one in force. Each room switches to it at its next batch, under the room's lock: the
batch's first message is a `rules` message at seq N, every event of that batch and after is
processed under the new version, every event before it under the old one. Whoever processes a
room (a web worker, a pipeline process, the room's lease owner) reads the room's version from the
room's state and asks `RuleBooks.for_batch`, so no batch mixes versions, and because apply ids
only grow no process can take a room back to an older apply.

A room seen for the first time adopts the version in force quietly (a history row, no message).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core.bus import Bus
from livedesk.core.clock import utcnow
from livedesk.core.tasks import cancel_and_wait, restarting
from livedesk.roomlog.messages import Message
from livedesk.rooms.audit import audit
from livedesk.rooms.models import Room
from livedesk.rulebook.book import HASH_SHOWN, Rulebook
from livedesk.rulebook.loader import RulesInvalid
from livedesk.rulesets import versions
from livedesk.rulesets.models import RoomRulesEntry
from livedesk.rulesets.versions import InForce

log = logging.getLogger(__name__)

RULES_CHANNEL = "livedesk:rules"  # rung after an apply commits: processes refresh at once
REFRESH_INTERVAL_S = 5.0  # and look anyway this often, in case the doorbell was lost


@dataclass(frozen=True)
class RoomRules:
    """The version a room runs under, and the first seq of its stream under it."""

    apply_id: int
    version_hash: str
    label: str
    since_seq: int

    @property
    def version(self) -> str:
        return self.version_hash[:HASH_SHOWN]

    def to_dict(self) -> dict[str, Any]:
        return {
            "apply_id": self.apply_id,
            "version_hash": self.version_hash,
            "label": self.label,
            "since_seq": self.since_seq,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RoomRules | None:
        if not data:
            return None
        return cls(
            int(data["apply_id"]), str(data["version_hash"]), str(data["label"]), data["since_seq"]
        )


def decide(current: RoomRules | None, latest: InForce, next_seq: int) -> RoomRules:
    """The rules a room's next batch runs under (pure). A newer apply switches the room at
    `next_seq`; the same content applied again changes nothing but the apply it follows."""
    if current is not None and latest.apply_id <= current.apply_id:
        return current
    if current is not None and latest.version_hash == current.version_hash:
        return replace(current, apply_id=latest.apply_id)
    return RoomRules(latest.apply_id, latest.version_hash, latest.label, next_seq)


@dataclass(frozen=True)
class Decision:
    """What a batch runs under, and what the switch (if it is one) appends and records."""

    rules: RoomRules
    book: Rulebook
    previous: RoomRules | None
    applied_by: str = ""

    @property
    def switched(self) -> bool:
        """A new version from this batch on (not a first adoption, not a re-apply)."""
        return self.previous is not None and self.previous.version_hash != self.rules.version_hash

    @property
    def changed(self) -> bool:
        return self.previous != self.rules

    def message(self) -> Message | None:
        """The `rules` message that opens the batch, when the room switches now."""
        if not self.switched:
            return None
        assert self.previous is not None
        return Message(
            "rules",
            {
                "version": self.rules.version,
                "label": self.rules.label,
                "since_seq": self.rules.since_seq,
                "previous": {"version": self.previous.version, "label": self.previous.label},
                "applied_by": self.applied_by,
            },
        )


class RuleBooks:
    """This process's rulebooks, by content hash, and the newest apply it knows of."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        files: Rulebook,
        on_change: Callable[[Rulebook], None] | None = None,
    ):
        self._sessions = sessions
        self._bus = bus
        # Told the newest version's rulebook (the web worker's endpoints read it from here).
        self._on_change = on_change
        self._files = files  # the rules directory, read at start
        self._books: dict[str, Rulebook] = {files.content_hash: files}
        self._latest: InForce | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Know the version in force (the database may be down: then at the first batch)."""
        try:
            async with self._sessions() as session:
                await self._establish(session)
                await session.commit()
        except Exception as exc:
            log.warning("rules in force not read yet (%s); will retry", exc)
        self._task = asyncio.create_task(self._listen(), name="rules-refresh")

    async def _establish(self, session: AsyncSession) -> None:
        """On a first start (nothing applied yet) the rules directory becomes the version in
        force. Later starts keep what was applied: rules/ edited on disk changes nothing until
        `livedesk rules apply` (a restarted worker must not disagree with the others)."""
        latest = await versions.current(session)
        if latest is None:
            latest = await versions.record_apply(session, self._files, by="first start")
        await self._adopt(session, latest)
        if self._latest is not None and self._latest.version_hash != self._files.content_hash:
            log.warning(
                "rules in force: %s %r (applied %s by %s); the rules directory (%s) differs and "
                "is not used until `livedesk rules apply`",
                self._latest.version,
                self._latest.label,
                self._latest.applied_at.isoformat(),
                self._latest.applied_by,
                self._files.version,
            )

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])

    @property
    def latest(self) -> InForce | None:
        return self._latest

    @property
    def current(self) -> Rulebook:
        """The rulebook of the newest apply this process knows (for what no room decides)."""
        return self._books[self._latest.version_hash] if self._latest else self._files

    async def book(self, session: AsyncSession, version_hash: str) -> Rulebook:
        """A version's rulebook, loaded from the database the first time this process needs it.
        RulesInvalid if this build cannot validate it: the batch fails and is retried (by a
        process that can), rather than being processed under other rules."""
        book = self._books.get(version_hash)
        if book is None:
            book = await versions.load(session, version_hash)
            self._books[version_hash] = book
        return book

    async def for_batch(
        self, session: AsyncSession, current: RoomRules | None, next_seq: int
    ) -> Decision:
        """Under the room's lock: the rulebook this batch runs under (see the module doc)."""
        if self._latest is None or (
            current is not None and current.apply_id > self._latest.apply_id
        ):
            await self.refresh(session)  # at start, or another process switched the room ahead
        latest = self._latest
        if latest is None:  # the version in force does not validate here (logged)
            raise RuntimeError("no rules version this process can run")
        rules = decide(current, latest, next_seq)
        book = await self.book(session, rules.version_hash)
        applied_by = latest.applied_by if rules.apply_id == latest.apply_id else ""
        return Decision(rules, book, current, applied_by)

    async def refresh(self, session: AsyncSession | None = None) -> None:
        """Read the newest apply; load its rulebook before anyone is told about it. In the
        caller's transaction when given one (flushes, never commits), else in its own."""
        if session is None:
            async with self._sessions() as own:
                await self.refresh(own)
                await own.commit()
            return
        if self._latest is None:
            await self._establish(session)
            return
        latest = await versions.current(session)
        if latest is not None and latest.apply_id > self._latest.apply_id:
            await self._adopt(session, latest)

    async def _adopt(self, session: AsyncSession, latest: InForce) -> None:
        try:
            await self.book(session, latest.version_hash)
        except RulesInvalid as exc:
            # Applied by a build that accepts it, but not this one: stay on what we have and say
            # so; rooms already switched to it fail their batches here and wait for a process
            # that can run them.
            log.error("rules %s %r do not validate here:\n%s", latest.version, latest.label, exc)
            return
        self._latest = latest
        if self._on_change is not None:
            self._on_change(self.current)

    async def _listen(self) -> None:
        async def listen() -> None:
            async with self._bus.subscribe(RULES_CHANNEL) as subscription:
                await self.refresh()
                while True:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(REFRESH_INTERVAL_S):
                            await subscription.get()
                    await self.refresh()

        await restarting("rules refresh", listen)


def record(
    session: AsyncSession, room_id: str, decision: Decision, now: datetime | None = None
) -> None:
    """Note in the room's rules history that `decision.rules` is in force from its seq (in the
    batch's transaction; only when something changed)."""
    if not decision.changed or (
        decision.previous is not None and decision.previous.since_seq == decision.rules.since_seq
    ):
        return
    rules = decision.rules
    session.add(
        RoomRulesEntry(
            room_id=room_id,
            since_seq=rules.since_seq,
            apply_id=rules.apply_id,
            version_hash=rules.version_hash,
            switched_at=now or utcnow(),
        )
    )


async def announce_apply(bus: Bus) -> None:
    """Ring every process after an apply commits (they also look every few seconds)."""
    await bus.publish(RULES_CHANNEL, b"apply")


Stages = TypeVar("Stages", bound="ForgetsRooms")


class ForgetsRooms(Protocol):
    def forget(self, room_id: str) -> None: ...


# Messages that are decisions made under the rules: each carries the version it ran under.
DECIDED_UNDER_RULES = frozenset({"greeting", "hint", "alert", "red_packet", "coupon", "promotion"})


class RoomSwitch(Generic[Stages]):
    """The pipeline's one question, answered: which stages run this room's batch. The stages
    are built once per rules version (`make`); a room that switches leaves the old version's
    stages (its in-memory state there is dropped and loaded again from the room row)."""

    def __init__(
        self, books: RuleBooks, make: Callable[[Rulebook], Stages], current: Stages | None = None
    ):
        """`current`: stages already built for `books.current` (used for that version)."""
        self.books = books
        self._make = make
        self._by_version: dict[str, Stages] = {}
        if current is not None:
            self._by_version[books.current.content_hash] = current
        self._by_room: dict[str, Stages] = {}

    async def for_batch(self, session: AsyncSession, room: Room) -> tuple[Stages, Decision]:
        """Under the room's lock: the stages for this batch and the decision (whose `message()`
        opens the batch when the room switches now). The room's state and history are
        updated in the batch's transaction."""
        saved = RoomRules.from_dict(room.state.rules)
        decision = await self.books.for_batch(session, saved, room.last_seq + 1)
        if decision.changed:
            room.state = room.state.with_(rules=decision.rules.to_dict())
            record(session, room.id, decision)
        if decision.switched:
            rules = decision.rules
            audit(
                session,
                room.id,
                decision.applied_by or "rules",
                "rules.switch",
                target=rules.version,
                detail=f"{rules.label}（自第 {rules.since_seq} 条起）",
            )
        stages = self._by_version.get(decision.rules.version_hash)
        if stages is None:
            stages = self._by_version[decision.rules.version_hash] = self._make(decision.book)
        before = self._by_room.get(room.id)
        if before is not None and before is not stages:
            before.forget(room.id)
        self._by_room[room.id] = stages
        return stages, decision

    def stages_of(self, room_id: str) -> Stages | None:
        return self._by_room.get(room_id)


def stamp(messages: list[Message], decision: Decision) -> None:
    """Every decision of the batch names the rules version it was made under."""
    for message in messages:
        if message.type in DECIDED_UNDER_RULES:
            message.data["rules_version"] = decision.rules.version
