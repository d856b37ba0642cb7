"""Which rules a room runs under: one switch point per apply, never back to an older apply."""

from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from livedesk.core.bus import MemoryBus
from livedesk.core.clock import utcnow
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.roomlog.messages import Message
from livedesk.rulebook.book import Rulebook, load_rulebook
from livedesk.rulesets import versions
from livedesk.rulesets.switching import RoomRules, RuleBooks, announce_apply, decide
from livedesk.rulesets.versions import InForce
from support import REPO, eventually


def _in_force(apply_id: int, version_hash: str) -> InForce:
    return InForce(apply_id, version_hash, f"label {version_hash}", utcnow(), "ops")


def test_a_new_room_adopts_the_version_in_force_from_its_next_seq() -> None:
    assert decide(None, _in_force(3, "aa"), 1) == RoomRules(3, "aa", "label aa", 1)


def test_a_newer_apply_switches_the_room_at_the_next_seq() -> None:
    room = RoomRules(3, "aa", "label aa", 1)
    assert decide(room, _in_force(4, "bb"), 57) == RoomRules(4, "bb", "label bb", 57)


def test_an_older_apply_never_takes_a_room_back() -> None:
    room = RoomRules(4, "bb", "label bb", 57)
    assert decide(room, _in_force(3, "aa"), 90) == room


def test_the_same_content_applied_again_is_no_switch() -> None:
    room = RoomRules(3, "aa", "label aa", 1)
    assert decide(room, _in_force(5, "aa"), 90) == RoomRules(5, "aa", "label aa", 1)


@given(
    steps=st.lists(
        st.tuples(st.integers(0, 6), st.sampled_from(["aa", "bb", "cc"]), st.integers(1, 5)),
        min_size=1,
        max_size=30,
    )
)
def test_every_switch_is_one_seq_and_apply_ids_only_grow(
    steps: list[tuple[int, str, int]],
) -> None:
    """Processes that know different applies (stale ones too) process a room's batches in turn:
    the room's apply id never falls, and its version changes exactly where since_seq moves."""
    room: RoomRules | None = None
    seq = 0
    for apply_id, version_hash, batch_events in steps:
        before = room
        room = decide(room, _in_force(apply_id, version_hash), seq + 1)
        if before is not None:
            assert room.apply_id >= before.apply_id
            moved = room.since_seq != before.since_seq
            assert moved == (room.version_hash != before.version_hash)
            if moved:
                assert room.since_seq == seq + 1
        seq += batch_events


def _other_rules(tmp_path: Path) -> Rulebook:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    products = rules / "products.yaml"
    products.write_text(products.read_text("utf-8").replace("29900", "19900"), "utf-8")
    return load_rulebook(rules, label="大促")


async def test_processes_switch_a_room_once_and_follow_a_room_that_is_ahead(
    private_database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(private_database_url)
    sessions = session_factory(engine)
    bus = MemoryBus()
    files = load_rulebook(REPO / "rules")
    other = _other_rules(tmp_path)
    first = RuleBooks(sessions, bus, files)
    stale = RuleBooks(sessions, MemoryBus(), files)  # hears no doorbell
    try:
        await first.start()
        await stale.start()
        assert first.latest is not None and first.latest.version_hash == files.content_hash
        async with sessions() as session:
            adopted = await first.for_batch(session, None, 1)
        assert adopted.book is files and not adopted.switched and adopted.message() is None
        # An apply elsewhere; the doorbell tells `first`, `stale` does not hear it.
        async with sessions() as session:
            await versions.record_apply(session, other, by="ops-a")
            await commit(session)
        await announce_apply(bus)

        async def first_knows() -> bool:
            return first.latest is not None and first.latest.version_hash == other.content_hash

        await eventually(first_knows, what="the doorbell refresh")
        async with sessions() as session:
            switched = await first.for_batch(session, adopted.rules, 41)
        assert switched.switched and switched.rules.since_seq == 41
        assert switched.book.content_hash == other.content_hash
        assert switched.message() == Message(
            "rules",
            {
                "version": other.version,
                "label": "大促",
                "since_seq": 41,
                "previous": {"version": files.version, "label": files.label},
                "applied_by": "ops-a",
            },
        )
        # The stale process takes the room next: it follows the room, never takes it back.
        async with sessions() as session:
            followed = await stale.for_batch(session, switched.rules, 60)
        assert followed.rules == switched.rules and not followed.changed
        assert followed.book.content_hash == other.content_hash
    finally:
        await first.close()
        await stale.close()
        await engine.dispose()
