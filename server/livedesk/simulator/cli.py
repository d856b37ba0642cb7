"""`livedesk simulate` and `livedesk replay`: stream a simulated session, or a recorded one,
into a running server through the real webhook path."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from livedesk.core.settings import Settings
from livedesk.ingest.platforms.secrets import secrets_for

err = Console(stderr=True)

STATUS_EVERY_S = 2.0


def _webhook_secret(secret: str | None, platform: str) -> str:
    # Signed with the newest: during a rotation the last one listed.
    found = secret or next(reversed(secrets_for(Settings(), platform)), None)
    if not found:
        err.print(
            f"[red]no signing secret for {platform!r}[/red]: pass --secret, set "
            f"LIVEDESK_WEBHOOK_SECRETS={platform}=whsec_…, or LIVEDESK_DEMO_MODE=1"
        )
        raise typer.Exit(2)
    return found


def simulate(
    url: Annotated[str, typer.Option(help="livedesk base URL.")] = "http://127.0.0.1:8000",
    room: Annotated[str, typer.Option(help="Room (live session) to stream into.")] = "demo-room",
    rate: Annotated[float, typer.Option(help="Events per second.", min=0.1)] = 20.0,
    duration: Annotated[
        float | None, typer.Option(help="Seconds to run; until Ctrl-C when omitted.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same session (ids differ per run).")] = 1,
    record: Annotated[
        Path | None, typer.Option(help="Append every sent event to this JSONL file (for replay).")
    ] = None,
    customers: Annotated[
        Path | None,
        typer.Option(
            help="CRM CSV whose members come back [default: rules/examples/crm_customers.csv]."
        ),
    ] = None,
    returning_share: Annotated[
        float, typer.Option(help="Share of arrivals who are known customers.", min=0.0, max=1.0)
    ] = 0.2,
    secret: Annotated[
        str | None, typer.Option(help="Signing secret [default: from LIVEDESK_WEBHOOK_SECRETS].")
    ] = None,
    platform: Annotated[
        str,
        typer.Option(
            help="douyin or kuaishou: the platform's own push format; anything else: the"
            " generic format under that webhook path."
        ),
    ] = "generic",
    shop: Annotated[
        str | None,
        typer.Option(
            help="Send orders and refunds through a shop's push: doudian, wechat_shop or"
            " douyin_open (needs a native --platform)."
        ),
    ] = None,
    shop_api_port: Annotated[
        int,
        typer.Option(help="Port of the simulated 抖店 / 微信小店 APIs the server fetches from."),
    ] = 8002,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the server's /healthz first.", min=0.0)
    ] = 30.0,
    ops_token: Annotated[
        str | None,
        typer.Option(
            envvar="LIVEDESK_OPS_TOKEN",
            help="An ops operator's token: also import --members CRM members, and react to the"
            " room's live channel (type a rain's passphrase, pay with granted coupons).",
        ),
    ] = None,
    members: Annotated[
        int, typer.Option(help="Synthetic CRM members to import with --ops-token.", min=0)
    ] = 240,
) -> None:
    """Stream a realistic live session into the server through the signed webhook endpoint."""
    from livedesk.simulator.sender import SendStats, throttled
    from livedesk.simulator.session import default_customers_file, load_demo_customers
    from livedesk.simulator.streaming import simulate as run_simulation

    if platform in ("douyin", "kuaishou") or shop is not None:
        _simulate_platforms(url, room, platform, shop, shop_api_port, rate, duration, seed, wait)
        return
    signing_secret = _webhook_secret(secret, platform)
    customers_file = customers or default_customers_file()
    known = load_demo_customers(customers_file)
    err.print(
        f"simulating room [bold]{room}[/bold] at {rate:g} events/s → {url}"
        f" ({len(known)} known customers from {customers_file})"
    )
    stats = SendStats()
    status = throttled(lambda s: err.print(s.line(), markup=False), STATUS_EVERY_S)
    try:
        asyncio.run(
            run_simulation(
                url,
                signing_secret,
                room,
                rate_per_s=rate,
                duration_s=duration,
                seed=seed,
                customers=known,
                returning_share=returning_share,
                record=record,
                platform=platform,
                stats=stats,
                on_progress=status,
                wait_up_s=wait,
                ops_token=ops_token,
                synthetic_members=members,
                on_note=lambda text: err.print(text, markup=False),
            )
        )
    except KeyboardInterrupt:
        err.print("interrupted")
    except ConnectionError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    err.print(stats.line(), markup=False)
    if stats.last_error and stats.errors:
        err.print(f"last error: {stats.last_error}", markup=False)
        raise typer.Exit(1)


def _simulate_platforms(
    url: str,
    room: str,
    platform: str,
    shop: str | None,
    shop_api_port: int,
    rate: float,
    duration: float | None,
    seed: int,
    wait: float,
) -> None:
    """`simulate` in the platforms' own formats (secrets from LIVEDESK_WEBHOOK_SECRETS)."""
    from livedesk.simulator.platform_sender import (
        NEEDS_SHOP_API,
        FormatNotConfigured,
        PlatformMix,
        simulate_platforms,
    )
    from livedesk.simulator.sender import SendStats, throttled
    from livedesk.simulator.session import default_customers_file, load_demo_customers

    settings = Settings()
    if shop in NEEDS_SHOP_API:
        err.print(
            f"simulated shop API on http://127.0.0.1:{shop_api_port}: run the server with"
            f" LIVEDESK_{'DOUDIAN' if shop == 'doudian' else 'WECHAT_SHOP'}_API_URL pointing"
            " there, and rules/shops.yaml mapping the simulated shop to this room"
        )
    stats = SendStats()
    status = throttled(lambda s: err.print(s.line(), markup=False), STATUS_EVERY_S)
    err.print(f"simulating room [bold]{room}[/bold] as {platform} (+ {shop or 'no shop'}) → {url}")
    try:
        asyncio.run(
            simulate_platforms(
                url,
                room,
                PlatformMix(platform, shop),
                settings,
                rate_per_s=rate,
                duration_s=duration,
                seed=seed,
                customers=load_demo_customers(default_customers_file()),
                shop_api_port=shop_api_port,
                stats=stats,
                on_progress=status,
                wait_up_s=wait,
            )
        )
    except KeyboardInterrupt:
        err.print("interrupted")
    except (ConnectionError, FormatNotConfigured) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    err.print(stats.line(), markup=False)
    if stats.last_error and stats.errors:
        err.print(f"last error: {stats.last_error}", markup=False)
        raise typer.Exit(1)


def replay(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSONL, one event a line.")
    ],
    room: Annotated[
        str | None, typer.Option(help="Replay into this room instead of the recorded one.")
    ] = None,
    speed: Annotated[float, typer.Option(help="2 = twice as fast as recorded.")] = 1.0,
    url: Annotated[str, typer.Option(help="livedesk base URL.")] = "http://127.0.0.1:8000",
    keep_ts: Annotated[
        bool, typer.Option("--keep-ts", help="Send the recorded ts instead of the send time.")
    ] = False,
    secret: Annotated[
        str | None, typer.Option(help="Signing secret [default: from LIVEDESK_WEBHOOK_SECRETS].")
    ] = None,
    platform: Annotated[str, typer.Option(help="Webhook platform path.")] = "generic",
) -> None:
    """Replay a recorded session through the real webhook path, keeping its timing."""
    from livedesk.simulator.replay import BadLine, ReplayStats
    from livedesk.simulator.replay import replay as run_replay
    from livedesk.simulator.sender import throttled

    if speed <= 0:
        err.print("[red]--speed must be greater than 0[/red]")
        raise typer.Exit(2)
    signing_secret = _webhook_secret(secret, platform)

    def report_bad_line(line: BadLine) -> None:
        err.print(f"skipped {file}:{line.line_no}: {line.reason}", markup=False, style="yellow")

    stats = ReplayStats()
    status = throttled(lambda s: err.print(s.line(), markup=False), STATUS_EVERY_S)
    try:
        asyncio.run(
            run_replay(
                file,
                url,
                signing_secret,
                room_id=room,
                speed=speed,
                retime=not keep_ts,
                platform=platform,
                stats=stats,
                on_progress=status,
                on_bad_line=report_bad_line,
            )
        )
    except KeyboardInterrupt:
        err.print("interrupted")
    err.print(stats.line(), markup=False)
    for rejection in stats.rejections:
        err.print(f"rejected {rejection}", markup=False, style="yellow")
    if stats.errors:
        err.print(f"last error: {stats.last_error}", markup=False)
        raise typer.Exit(1)
