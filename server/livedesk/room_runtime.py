"""A room's decision state while this process owns the room, and its round trip to the
database.

The room's owner (the pipeline process holding its lease) keeps this state in memory between
batches and saves it in each batch's transaction: the decision state (greeting queue, hint
cooldowns, open alerts, counters, …) in the room row (`rooms.state`, livedesk.rooms.state),
the rolling windows as a journal of what the batch moved (livedesk.rooms.window_store: they
run to hundreds of kilobytes). So the next owner, after a hand-over or a crash, loads exactly
what the last committed batch left, and the figures carry on without a jump.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.analysis.spam import SpamFilter
from livedesk.analysis.windows import RoomWindows
from livedesk.cues.alerts import AlertState
from livedesk.cues.greeting_queue import GreetingQueue
from livedesk.cues.hints import HintState
from livedesk.cues.quiet import QuietList
from livedesk.rooms import window_store
from livedesk.rooms.models import Room
from livedesk.rooms.presence import RoomPresence
from livedesk.rulebook.greetings import GreetingRules
from livedesk.rulebook.lexicon import SpamRules

RUNTIME_CACHE_ROOMS = 1000


@dataclass
class RoomRuntime:
    """A room's decision state while this process holds it: what the stages read and change
    (each names the part it needs: livedesk.stages)."""

    seq: int  # the room's last_seq when this runtime was last in step with the database
    windows: RoomWindows
    hints: HintState
    alerts: AlertState
    greetings: GreetingQueue
    spam: SpamFilter
    windows_stamp: str | None = None  # the room state's windows_stamp these windows are at
    counters: dict[str, int] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)
    # Returning customers already looked at this session: tier label and VIP flag for the
    # comment stream (a cache; the queue's own state decides who is greeted).
    known: dict[int, tuple[str, bool]] = field(default_factory=dict)
    # Customers not to be named for the rest of the session (a complaint in the danmaku).
    quiet: QuietList = field(default_factory=QuietList)
    presence: RoomPresence | None = None  # who is in the room (loaded with the runtime)


class RoomRuntimes:
    """The runtimes of the rooms this process works on, loaded from and saved to their rows."""

    def __init__(self, greeting_rules: GreetingRules, spam_rules: SpamRules):
        self._greeting_rules = greeting_rules
        self._spam_rules = spam_rules
        self._runtimes: dict[str, RoomRuntime] = {}

    def get(self, room_id: str) -> RoomRuntime | None:
        return self._runtimes.get(room_id)

    def forget(self, room_id: str) -> None:
        """Drop cached state (after a failed transaction, the database is the truth again)."""
        self._runtimes.pop(room_id, None)

    async def load(self, session: AsyncSession, room: Room) -> RoomRuntime:
        """The room's runtime: this process's own while it is in step with the room row (the
        seq it last wrote), else the saved state."""
        cached = self._runtimes.get(room.id)
        if cached is not None and cached.seq == room.last_seq:
            return cached
        state = room.state
        if cached is not None and cached.windows_stamp == state.windows_stamp:
            windows = cached.windows  # nobody saved them since (e.g. an ops action moved seq)
        else:
            windows = await window_store.load(session, room.id, state.windows_head)
        runtime = RoomRuntime(
            seq=room.last_seq,
            windows=windows,
            windows_stamp=state.windows_stamp,
            hints=HintState.from_dict(state.hints),
            alerts=AlertState.from_dict(state.alerts),
            greetings=GreetingQueue.from_dict(state.greetings, self._greeting_rules)
            if state.greetings is not None
            else GreetingQueue(self._greeting_rules),
            spam=SpamFilter(self._spam_rules),
            counters=dict(state.counters),
            stock=dict(state.stock),
            known=dict(state.known),
            quiet=QuietList.from_dict(state.quiet),
            presence=await RoomPresence.load(session, room.id),
        )
        if len(self._runtimes) >= RUNTIME_CACHE_ROOMS:
            self._runtimes.pop(next(iter(self._runtimes)))
        self._runtimes[room.id] = runtime
        return runtime

    async def save(
        self, session: AsyncSession, room: Room, runtime: RoomRuntime, *, appended: int
    ) -> None:
        """Write the runtime into the batch's transaction: the room row's state, the windows'
        journal when they moved. `appended`: the messages this batch appends to the room log."""
        # Copies: the runtime keeps changing its own dicts, the saved state must not.
        state = room.state.with_(
            hints=runtime.hints.to_dict(),
            alerts=runtime.alerts.to_dict(),
            greetings=runtime.greetings.to_dict(),
            counters=dict(runtime.counters),
            stock=dict(runtime.stock),
            known=dict(runtime.known),
            quiet=runtime.quiet.to_dict(),
        )
        journal = runtime.windows.take_journal()
        if journal is not None:
            await window_store.save(session, room.id, journal)
            runtime.windows_stamp = secrets.token_hex(8)
            state = state.with_(windows_head=journal.head, windows_stamp=runtime.windows_stamp)
        if state != room.state:
            room.state = state
        # rooms.append will advance last_seq by the messages appended in this transaction.
        runtime.seq = room.last_seq + appended
