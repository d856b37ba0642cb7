"""Who is in a room now and since when: the one presence model behind the viewer count, the
returning share, drop audiences (coupons, blind boxes) and blind-box dwell.

A viewer's presence comes from one of two sources, by their platform:

- **enter/leave**, for a platform whose push sends them (the first enter or leave a room
  sees from a platform says it does, `room_enter_platforms`): present from enter to leave.
- **activity**, for a platform that sends none (Douyin's and Kuaishou's live push): a viewer
  is *estimated* present from their first sign of life — a comment, like, gift, cart,
  order, follow or share — for as long as signs keep coming within `ACTIVITY_WINDOW_S`; that long
  after their last sign they are counted as gone. Their dwell is from the first to the
  latest sign of the stretch, never the window's grace: a viewer who spoke once has watched
  0 s, one who spoke at 20:00 and again at 20:04 has watched 4 minutes.

Rows are `room_viewers`, loaded per batch for the accounts the batch names and updated in the
pipeline's transaction; this object caches only which platforms send enter/leave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.db import insert_for, one_of, write_together
from livedesk.ingest.schemas import Event, viewer_key
from livedesk.rooms.models import RoomEnterPlatform, RoomViewer

# An estimated viewer with no sign of life for this long is counted as gone (documented in
# the README and docs/contract.md): five minutes, long enough for a quiet viewer who still
# likes or comments now and then, short enough that the count follows a room emptying.
ACTIVITY_WINDOW_S = 300
ACTIVITY = frozenset({"comment", "like", "gift", "cart", "order", "follow", "share"})
ENTER_LEAVE = frozenset({"enter", "leave"})
# What makes a viewer (counted by enter/leave) one who interacted, for the session's 互动率.
INTERACTING = frozenset({"comment", "like", "gift", "order"})
# An estimated viewer's latest sign is written at most this often (a chatty viewer would
# otherwise rewrite their row with every batch); dwell and expiry are that coarse.
TOUCH_EVERY_S = 5
# Estimated viewers past the window are looked for at most this often per room.
SWEEP_EVERY_S = 10


def _account(user_key: str) -> tuple[str, str]:
    platform, _, user_id = user_key.partition(":")
    return platform, user_id


@dataclass
class PresenceChange:
    """What a batch did to the room's counts."""

    present: int = 0  # viewers who arrived minus viewers who left
    returning_present: int = 0  # the same, of returning customers
    estimated_present: int = 0  # the same, of viewers counted from activity
    first_visits: int = 0  # viewers seen in the room for the first time
    returning_first_visits: int = 0
    estimated_first_visits: int = 0
    # Viewers counted by enter/leave who interacted for the first time in the session.
    first_interactions: int = 0

    def arrived(self, row: RoomViewer, *, first: bool) -> None:
        self.present += 1
        self.returning_present += int(row.is_returning)
        self.estimated_present += int(row.estimated)
        if first:
            self.first_visits += 1
            self.returning_first_visits += int(row.is_returning)
            self.estimated_first_visits += int(row.estimated)

    def left(self, row: RoomViewer) -> None:
        self.present -= 1
        self.returning_present -= int(row.is_returning)
        self.estimated_present -= int(row.estimated)


def dwell_of(row: RoomViewer, now: datetime) -> int:
    """Seconds in the room so far, the current stretch included."""
    if not row.present:
        return row.dwell_s
    until = row.last_seen_at if row.estimated else now
    return row.dwell_s + max(0, int((until - row.entered_at).total_seconds()))


@dataclass(frozen=True)
class PresentViewer:
    account: tuple[str, str]  # (platform, user id)
    dwell_s: int  # seconds in the room so far (for an estimated viewer: first to latest sign)
    estimated: bool  # counted present from activity, their platform sends no enter/leave


# What a batch may change in a viewer's row: all written together (core.db.write_together),
# one UPDATE for the batch's rows. They are the room owner's to write (lease and row lock).
_CHANGING = (
    "present",
    "is_returning",
    "entered_at",
    "last_seen_at",
    "dwell_s",
    "estimated",
    "interacted",
)


class RoomPresence:
    """One room's presence, for the worker that holds the room (see the module docstring)."""

    def __init__(self, room_id: str, enter_platforms: set[str]):
        self.room_id = room_id
        self._enter_platforms = enter_platforms
        self._next_sweep: datetime | None = None  # None: at the next batch
        self._session: AsyncSession | None = None
        self._now: datetime | None = None
        # The dwell of the batch's viewers as `observe` left them: `dwell_s` would read their
        # rows again (the session's identity map keeps only rows something references, and
        # holding the rows themselves made the pipeline's garbage collection dearer).
        self._batch_dwell: dict[str, int] = {}

    @classmethod
    async def load(cls, session: AsyncSession, room_id: str) -> RoomPresence:
        query = select(RoomEnterPlatform.platform).where(RoomEnterPlatform.room_id == room_id)
        return cls(room_id, set((await session.execute(query)).scalars()))

    def estimates(self, platform: str) -> bool:
        """Whether this platform's viewers are estimated from activity in this room."""
        return platform not in self._enter_platforms

    async def observe(
        self,
        session: AsyncSession,
        events: Sequence[Event],
        returning: Sequence[bool],
        now: datetime,
    ) -> PresenceChange:
        """Apply a batch's enters, leaves and signs of life (in order; `returning[i]` says
        whether event i's viewer is a returning customer), then count as gone the estimated
        viewers silent for longer than the window."""
        self._session, self._now = session, now  # for `dwell_s` and `present` in this batch
        await self._learn_enter_platforms(session, events, now)
        tracked = [
            (event, is_returning)
            for event, is_returning in zip(events, returning, strict=True)
            if event.user is not None
            and (event.type in ENTER_LEAVE or event.type in ACTIVITY | INTERACTING)
        ]
        rows = await self._rows(session, {viewer_key(event) for event, _ in tracked})
        change = PresenceChange()
        for event, is_returning in tracked:
            key = viewer_key(event)
            if event.type == "enter":
                rows[key] = self._enter(session, rows.get(key), key, event.ts, is_returning, change)
            elif event.type == "leave":
                row = rows.get(key)
                if row is None:  # left before any enter seen: kept, so a late enter is stale
                    rows[key] = self._left_unseen(session, key, event.ts, is_returning, change)
                else:
                    self._leave(row, event.ts, change)
            elif self.estimates(event.platform):
                rows[key] = self._sign(session, rows.get(key), key, event.ts, is_returning, change)
            elif event.type in INTERACTING:
                self._interacted(rows.get(key), change)
        write_together(rows.values(), _CHANGING)
        await self._sweep(session, now, change)
        self._batch_dwell = {key: dwell_of(row, now) for key, row in rows.items()}
        return change

    async def dwell_s(self, account: tuple[str, str]) -> int:
        """Seconds this account has spent in the room so far (after `observe`)."""
        assert self._session is not None and self._now is not None, "observe the batch first"
        key = f"{account[0]}:{account[1]}"
        known = self._batch_dwell.get(key)
        if known is not None:
            return known
        row = await self._session.get(RoomViewer, (self.room_id, key))
        return dwell_of(row, self._now) if row is not None else 0

    async def present(self) -> list[PresentViewer]:
        """Everyone present now (after `observe`), with their dwell."""
        session, now = self._session, self._now
        assert session is not None and now is not None, "observe the batch first"
        await session.flush()  # this batch's arrivals and departures
        query = select(RoomViewer).where(
            RoomViewer.room_id == self.room_id, RoomViewer.present.is_(True)
        )
        return [
            PresentViewer(_account(row.user_key), dwell_of(row, now), row.estimated)
            for row in (await session.execute(query)).scalars()
        ]

    # -- the two sources -------------------------------------------------------------------
    # Platforms deliver out of order: an enter or leave older than the viewer's latest one is
    # stale and changes nothing (a leave older than the enter already seen: they are back in;
    # an enter older than the leave already seen: they are gone).

    def _enter(
        self,
        session: AsyncSession,
        row: RoomViewer | None,
        key: str,
        at: datetime,
        returning: bool,
        change: PresenceChange,
    ) -> RoomViewer:
        if row is None:
            row = self._new_row(session, key, at, returning, estimated=False)
            change.arrived(row, first=True)
        elif not row.present:
            if at <= row.last_seen_at:  # entered before the leave already seen
                return row
            row.present, row.estimated, row.entered_at, row.last_seen_at = True, False, at, at
            row.is_returning = row.is_returning or returning
            change.arrived(row, first=False)
        elif row.estimated:
            # Counted from activity until now: from here on enter/leave say (since unchanged).
            change.estimated_present -= 1
            row.estimated, row.last_seen_at = False, max(row.last_seen_at, at)
        else:
            row.last_seen_at = max(row.last_seen_at, at)
        return row

    def _leave(self, row: RoomViewer, at: datetime, change: PresenceChange) -> None:
        if not row.present or at < row.last_seen_at:  # not here, or back in since
            return
        row.dwell_s += max(0, int((at - row.entered_at).total_seconds()))
        change.left(row)
        row.present, row.last_seen_at = False, at

    def _left_unseen(
        self, session: AsyncSession, key: str, at: datetime, returning: bool, change: PresenceChange
    ) -> RoomViewer:
        """A leave before any enter: a visit seen, nobody present."""
        row = self._new_row(session, key, at, returning, estimated=False)
        row.present = False
        change.first_visits += 1
        change.returning_first_visits += int(returning)
        return row

    def _interacted(self, row: RoomViewer | None, change: PresenceChange) -> None:
        """A viewer who came in by enter commented, liked, gifted or ordered."""
        if row is not None and row.present and not row.estimated and not row.interacted:
            row.interacted = True
            change.first_interactions += 1

    def _sign(
        self,
        session: AsyncSession,
        row: RoomViewer | None,
        key: str,
        at: datetime,
        returning: bool,
        change: PresenceChange,
    ) -> RoomViewer:
        """A sign of life from a viewer whose platform sends no enter/leave."""
        if row is None:
            row = self._new_row(session, key, at, returning, estimated=True)
            change.arrived(row, first=True)
        elif not row.present:
            row.present, row.estimated, row.entered_at, row.last_seen_at = True, True, at, at
            row.is_returning = row.is_returning or returning
            change.arrived(row, first=False)
        elif row.estimated and (at - row.last_seen_at).total_seconds() >= TOUCH_EVERY_S:
            row.last_seen_at = at
        return row

    def _new_row(
        self, session: AsyncSession, key: str, at: datetime, returning: bool, *, estimated: bool
    ) -> RoomViewer:
        row = RoomViewer(
            room_id=self.room_id,
            user_key=key,
            present=True,
            is_returning=returning,
            entered_at=at,
            last_seen_at=at,
            dwell_s=0,
            estimated=estimated,
            interacted=False,
        )
        session.add(row)
        return row

    async def _sweep(self, session: AsyncSession, now: datetime, change: PresenceChange) -> None:
        """Estimated viewers silent for longer than the window have left, at their last sign."""
        if self._next_sweep is not None and now < self._next_sweep:
            return
        self._next_sweep = now + timedelta(seconds=SWEEP_EVERY_S)
        await session.flush()  # the batch's own signs of life first
        cutoff = now - timedelta(seconds=ACTIVITY_WINDOW_S)
        query = select(RoomViewer).where(
            RoomViewer.room_id == self.room_id,
            RoomViewer.present.is_(True),
            RoomViewer.estimated.is_(True),
            RoomViewer.last_seen_at < cutoff,
        )
        swept = list((await session.execute(query)).scalars())
        for row in swept:
            self._leave(row, row.last_seen_at, change)
        write_together(swept, _CHANGING)

    async def _learn_enter_platforms(
        self, session: AsyncSession, events: Sequence[Event], now: datetime
    ) -> None:
        new = {e.platform for e in events if e.type in ENTER_LEAVE} - self._enter_platforms
        if not new:
            return
        # Another worker may have recorded it first (it held the room before): no conflict.
        insert = insert_for(session, RoomEnterPlatform).values(
            [{"room_id": self.room_id, "platform": p, "first_at": now} for p in sorted(new)]
        )
        await session.execute(insert.on_conflict_do_nothing())
        self._enter_platforms |= new

    async def _rows(self, session: AsyncSession, keys: set[str]) -> dict[str, RoomViewer]:
        if not keys:
            return {}
        query = select(RoomViewer).where(
            RoomViewer.room_id == self.room_id, one_of(session, RoomViewer.user_key, keys)
        )
        return {row.user_key: row for row in (await session.execute(query)).scalars()}
