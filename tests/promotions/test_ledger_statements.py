"""What the ledger sends per claim (issue 13 point 2), on both backends: a held claim is one
INSERT (no savepoint: nothing else to undo), its redelivery a DUPLICATE; a claim the campaign
can no longer pay sends nothing; and after a grant the loaded campaign row says what the
database does, without being read again."""

from __future__ import annotations

from ledger_support import add_people, new_room, running_campaign
from sqlalchemy import event as sa_event

from livedesk.core.clock import utcnow
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.promotions import ledger
from livedesk.promotions.models import Campaign

Outcome = ledger.Outcome


async def test_statements_per_claim(private_database_url):
    engine = create_engine(private_database_url)
    sessions = session_factory(engine)
    sent: list[str] = []

    @sa_event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _seen(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        sent.append(" ".join(statement.split()).upper())

    try:
        async with sessions() as session:
            first, second = await add_people(session, 2)
            campaign = running_campaign(new_room(), utcnow(), budget_cents=100, quantity=1)
            session.add(campaign)
            await commit(session)

        async with sessions() as session:
            loaded = await session.get(Campaign, campaign.id)
            assert loaded is not None
            held = ledger.Claim(loaded, first, 0, 100)
            sent.clear()
            assert await ledger.hold(session, held, "新账号", utcnow()) is Outcome.HELD
            assert await ledger.hold(session, held, "新账号", utcnow()) is Outcome.DUPLICATE
            assert [s.split()[0] for s in sent] == ["INSERT", "INSERT"], sent

            assert await ledger.pay(session, ledger.Claim(loaded, second, 0, 100), utcnow()) is (
                Outcome.GRANTED
            )
            assert (loaded.spent_cents, loaded.granted_count) == (100, 1)  # as the row has it
            sent.clear()
            exhausted = ledger.Claim(loaded, first, 1, 100)
            assert await ledger.pay(session, exhausted, utcnow()) is Outcome.EXHAUSTED
            assert sent == []
            await commit(session)

        async with sessions() as session:
            stored = await session.get(Campaign, campaign.id)
            assert stored is not None and (stored.spent_cents, stored.granted_count) == (100, 1)
    finally:
        await engine.dispose()
