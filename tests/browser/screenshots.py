"""Screenshots of the panels with a live simulated session, for docs/screenshots/ and the README.

    .venv/bin/python tests/browser/screenshots.py [--seconds 140] [--out docs/screenshots]

Starts a real server on a throwaway SQLite database, imports the demo CRM file and the
simulator's member base, opens the host teleprompter (1920×1080, a TV beside the camera) and the
ops console (1600×1000 and 1440×900 desktops, a 768×1024 tablet, a 390×844 phone) in Debian's
Chromium, streams a simulated session with returning
customers through the signed webhook while an operator drops a coupon and a red-packet rain
(the simulated viewers follow the live channel: they type the passphrase and pay with what they
were granted), then captures each page as the people using it would see it at that moment.
Debian's fonts-noto-cjk and fonts-noto-color-emoji make the Chinese and the viewers' emoji show.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # browser_support, support

from browser_support import CHROMIUM, CHROMIUM_ARGS, import_customers, session_cookie  # noqa: E402
from playwright.async_api import Browser, Page, async_playwright  # noqa: E402

from livedesk.auth import service as auth  # noqa: E402
from livedesk.core.http import retry_after_s  # noqa: E402
from livedesk.core.migrations import upgrade  # noqa: E402
from livedesk.simulator.crm import synthetic_members  # noqa: E402
from livedesk.simulator.live import LiveLink, import_members  # noqa: E402
from livedesk.simulator.offers import RoomOffers  # noqa: E402
from livedesk.simulator.people import DemoCustomer  # noqa: E402
from livedesk.simulator.sender import paced_batches  # noqa: E402
from livedesk.simulator.session import SessionSimulator, load_demo_customers  # noqa: E402
from support import REPO, LiveServer, add_operator, post_events, run_server, settings_for  # noqa: E402

ROOM_ID = "spring-beauty-live"
CRM = REPO / "rules" / "examples" / "crm_customers.csv"
SEED = 5  # a seed whose first product cycle ends in a backlash: the alerts have something to show
RATE_PER_S = 25
HOST_SMALL_SIZES = {"host-1440": (1440, 900), "host-phone": (390, 844)}
# The ops console as each of its users holds it: file name -> viewport.
OPS_SIZES = {
    "ops": (1600, 1000),
    "ops-1440": (1440, 900),
    "ops-tablet": (768, 1024),
    "ops-phone": (390, 844),
}


async def _page(
    browser: Browser, server: LiveServer, token: str, path: str, size: tuple[int, int]
) -> Page:
    context = await browser.new_context(
        viewport={"width": size[0], "height": size[1]},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    cookie = await session_cookie(server, token)
    await context.add_cookies(
        [{"name": auth.SESSION_COOKIE, "value": cookie, "url": server.base_url}]
    )
    page = await context.new_page()
    page.on(
        "console", lambda m: print(f"  console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: print(f"  page error: {e}"))
    await page.goto(f"{server.base_url}{path}")
    return page


def _simulator(offers: RoomOffers, members: list[DemoCustomer]) -> SessionSimulator:
    simulator = SessionSimulator(
        ROOM_ID,
        seed=SEED,
        customers=[*load_demo_customers(CRM), *members],
        returning_share=0.25,
        offers=offers,
    )
    # Start the session's clock just before the warm-up ends, so the shot falls in the pitch,
    # the flash sale and what follows rather than in a minute of 大家好.
    simulator.phase_at(int(time.time() * 1000) - 55_000)
    return simulator


async def _stream(client: httpx.AsyncClient, simulator: SessionSimulator, seconds: float) -> None:
    sent = 0
    async for batch in paced_batches(simulator, rate_per_s=RATE_PER_S, duration_s=seconds):
        response = await post_events(client, batch)
        while response.status_code == 503:  # busy (fast refusal): retry, as platforms do
            await asyncio.sleep(retry_after_s(response) or 1.0)
            response = await post_events(client, batch)
        response.raise_for_status()
        sent += len(batch)
        if sent % 500 < len(batch):
            print(f"  {sent} events sent")


async def _operator_actions(client: httpx.AsyncClient, seconds: float) -> None:
    """What an ops person does during the session, through the same API the console uses."""
    api = f"/api/v1/rooms/{ROOM_ID}"

    async def money(path: str, body: dict[str, object]) -> None:
        headers = {"Idempotency-Key": f"screenshots-{path}-{time.time_ns()}"}
        response = await client.post(f"{api}/{path}", json=body, headers=headers)
        print(f"  POST {path}: {response.status_code}")

    started = time.monotonic()

    async def until(at_s: float) -> None:
        await asyncio.sleep(max(0.0, at_s - (time.monotonic() - started)))

    # 开播, the night's rundown (排品), and its first product on the host's card.
    await until(2)
    (await client.post(f"{api}/session/start")).raise_for_status()
    rundown = ["SKU-SERUM-AA30", "SKU-CREAM-50", "SKU-MASK-10", "SKU-WHITE-30", "SKU-COFFEE-M1"]
    (await client.put(f"{api}/rundown", json={"skus": rundown})).raise_for_status()
    (await client.post(f"{api}/rundown/next")).raise_for_status()
    # A coupon early enough for viewers to claim it before the shot; ¥20 × 100 and the rain's
    # ¥500 stay under the approval thresholds (rules/coupons.yaml, and the ¥3,000 an operator
    # may drop in a session without a second one, rules/red_packets.yaml): both run at once.
    await until(seconds * 0.35)
    coupon = {
        "title": "老粉专享券",
        "audience": "returning",
        "threshold_cents": 19900,
        "value_cents": 2000,
        "quantity": 100,
        "duration_s": 600,
    }
    await money("coupons", coupon)
    await until(seconds - 40)
    response = await client.post(
        f"{api}/hints", json={"text": "秒杀倒计时最后 1 分钟，提醒大家先加购", "priority": 1}
    )
    response.raise_for_status()
    # A red-packet rain announced shortly before the shot, still pouring when it is taken: the
    # host reads out its passphrase, the room types it, ops watch the claims come in.
    await until(seconds - 35)
    red_packet = {
        "kind": "rain",
        "title": "整点红包雨",
        "passphrase": "老铁666",
        "budget_cents": 50000,
        "quantity": 200,
        "countdown_s": 10,
        "duration_s": 60,
    }
    await money("red-packets", red_packet)


async def shoot(seconds: float, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite+aiosqlite:///{tmp}/livedesk.db"
        await asyncio.to_thread(upgrade, database_url)
        async with run_server(settings_for(database_url)) as server:
            ops_token = await add_operator(database_url, "ops")
            host_token = await add_operator(database_url, "host")
            async with (
                httpx.AsyncClient(
                    base_url=server.base_url, headers={"Authorization": f"Bearer {ops_token}"}
                ) as client,
                async_playwright() as playwright,
            ):
                await import_customers(client, CRM.read_text(encoding="utf-8-sig"))
                members_csv, members = synthetic_members()
                assert await import_members(client, server.base_url, ops_token, members_csv)
                offers = RoomOffers()
                simulator = _simulator(offers, members)
                browser = await playwright.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
                )
                # A first event creates the room; then the panels open, as they would on the night.
                await _stream(client, simulator, 1)
                host = await _page(browser, server, host_token, f"/host/{ROOM_ID}", (1920, 1080))
                # The teleprompter on a laptop and on a phone held by the host (nothing cut).
                host_small = {
                    name: await _page(browser, server, host_token, f"/host/{ROOM_ID}", size)
                    for name, size in HOST_SMALL_SIZES.items()
                }
                ops_pages = {
                    name: await _page(browser, server, ops_token, f"/ops/{ROOM_ID}", size)
                    for name, size in OPS_SIZES.items()
                }
                link = LiveLink(server.base_url, ROOM_ID, ops_token, offers, client, on_note=print)
                following = asyncio.create_task(link.run())
                print(f"streaming {seconds:g} s of a simulated session into {ROOM_ID} …")
                await asyncio.gather(
                    _stream(client, simulator, seconds), _operator_actions(client, seconds)
                )
                following.cancel()
                print(f"  the viewers saw {link.stats.grants} grants in their hands")
                await asyncio.sleep(2)  # the last batch reaches the panels, charts redraw

                await host.screenshot(path=out / "host.png")
                for name, page in host_small.items():
                    await page.screenshot(path=out / f"{name}.png")
                for name, ops in ops_pages.items():
                    await ops.screenshot(path=out / f"{name}.png")
                # The phone's whole scroll, top to bottom, for the README.
                await ops_pages["ops-phone"].screenshot(
                    path=out / "ops-phone-full.png", full_page=True
                )
                report = await _page(
                    browser, server, ops_token, f"/rooms/{ROOM_ID}/report", (1440, 1000)
                )
                await report.get_by_test_id("report-returning_share").wait_for()
                await asyncio.sleep(1)
                await report.screenshot(path=out / "report.png", full_page=True)
                index = await _page(browser, server, ops_token, "/", (1440, 420))
                await index.get_by_test_id("room-card").first.wait_for()
                await index.screenshot(path=out / "index.png")
                await browser.close()
    for name in ("host", *HOST_SMALL_SIZES, *OPS_SIZES, "ops-phone-full", "report", "index"):
        print(f"wrote {out / f'{name}.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=140, help="how long to stream")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(shoot(args.seconds, args.out))


if __name__ == "__main__":
    main()
