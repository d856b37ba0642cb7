"""A generated live session streamed into a room through the webhook path (session.py says
what is said, sender.py sends it), optionally acting through the operators' interfaces as the
viewers would (live.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from livedesk.simulator import crm
from livedesk.simulator.live import LiveLink, import_members
from livedesk.simulator.offers import RoomOffers
from livedesk.simulator.people import DemoCustomer, default_customers_file, load_demo_customers
from livedesk.simulator.sender import (
    ProgressCallback,
    SendStats,
    client_scope,
    paced_batches,
    recorded,
    send_batches,
    wait_until_up,
)
from livedesk.simulator.session import SessionSimulator
from livedesk.simulator.show import ShowRunner

log = logging.getLogger(__name__)


async def simulate(
    base_url: str,
    secret: str,
    room_id: str,
    *,
    rate_per_s: float,
    duration_s: float | None = None,
    seed: int = 1,
    customers: Sequence[DemoCustomer] | None = None,
    returning_share: float = 0.2,
    record: Path | None = None,
    interval_s: float = 0.2,
    platform: str = "generic",
    client: httpx.AsyncClient | None = None,
    stats: SendStats | None = None,
    on_progress: ProgressCallback | None = None,
    wait_up_s: float = 0.0,
    ops_token: str | None = None,
    synthetic_members: int = crm.SYNTHETIC_MEMBERS,
    on_note: Callable[[str], None] | None = None,
    show_title: str | None = None,
) -> SendStats:
    """Stream a simulated live session into `room_id` until `duration_s` (or cancellation).

    `customers` None reads the demo customer base (`default_customers_file()`), if there is
    one; pass `()` for a room of strangers only. With `wait_up_s`, first wait that long at most
    for the server to answer `/healthz`, so a simulator started with the server does not lose
    the room's first arrivals.

    With an `ops_token` the simulator also acts through the operators' interfaces (`live.py`):
    it imports `synthetic_members` more CRM members (0: none) so that returning customers come
    back in a believable share, and it follows the room's live channel and grants list so that
    viewers type a rain's passphrase while it pours and pay with the coupons and packets they
    were given. `on_note` hears what that link does (imported, connected, refused). With a
    `show_title` too, it runs the show (show.py): 开播 of a session of that title before the
    first event, and the rundown of the products it pitches, each put on as it comes.
    """
    if customers is None:
        customers = load_demo_customers(default_customers_file())
    note = on_note or (lambda _text: None)
    async with client_scope(client) as http:
        if wait_up_s > 0 and not await wait_until_up(base_url, http, timeout_s=wait_up_s):
            raise ConnectionError(f"{base_url} did not come up within {wait_up_s:g} s")
        offers = RoomOffers()
        link: asyncio.Task[None] | None = None
        if ops_token:
            if synthetic_members > 0:
                csv_text, members = crm.synthetic_members(synthetic_members, platform=platform)
                report = await import_members(http, base_url, ops_token, csv_text)
                if report is not None:
                    customers = [*customers, *members]
                    note(
                        f"member base: {len(members)} members"
                        f" ({report.get('imported_members', 0)} new,"
                        f" {report.get('imported_orders', 0)} orders imported)"
                    )
                else:
                    note("member base not imported (see the log); known customers only")
            live = LiveLink(base_url, room_id, ops_token, offers, http, on_note=note)
            link = asyncio.create_task(live.run(), name=f"simulator-link:{room_id}")
        simulator = SessionSimulator(
            room_id,
            seed=seed,
            customers=customers,
            returning_share=returning_share,
            platform=platform,
            offers=offers,
        )
        batches = paced_batches(
            simulator, rate_per_s=rate_per_s, duration_s=duration_s, interval_s=interval_s
        )
        if record is not None:
            batches = recorded(batches, record)
        follow: asyncio.Task[None] | None = None
        try:
            if ops_token and show_title:
                show = ShowRunner(base_url, room_id, ops_token, http, on_note=note)
                skus = [product.sku for product in simulator.catalogue]
                if await show.open(skus, title=show_title, platform=platform):
                    follow = asyncio.create_task(show.follow(simulator), name=f"show:{room_id}")
            return await send_batches(
                base_url,
                secret,
                batches,
                platform=platform,
                client=http,
                stats=stats,
                on_progress=on_progress,
            )
        finally:
            # The show and the link are extras: their failure is logged, never the stream's
            # result.
            for extra in (follow, link):
                if extra is None:
                    continue
                extra.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    try:
                        await extra
                    except Exception:
                        log.exception("the simulator's %s failed", extra.get_name())
