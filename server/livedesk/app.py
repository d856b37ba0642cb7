"""The application factory: one `create_app()`, everything built in a typed lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.responses import Response

from livedesk.afterstream.endpoints import router as afterstream_router
from livedesk.auth.deps import LoginRequired
from livedesk.core import logs, metrics, openapi, runtime
from livedesk.core.assets import asset_dir
from livedesk.core.bus import Bus, create_bus
from livedesk.core.db import create_engine, session_factory
from livedesk.core.delivery import AckWindow, DeliveryBoard
from livedesk.core.deps import refuse_unstorable_input
from livedesk.core.errors import install_error_handlers
from livedesk.core.jsonutil import JsonResponse
from livedesk.core.migrations import schema_problem
from livedesk.core.schemas import Readiness
from livedesk.core.settings import Settings
from livedesk.cues.hint_endpoints import router as hints_router
from livedesk.cues.threshold_endpoints import router as thresholds_router
from livedesk.customers.endpoints import router as customers_router
from livedesk.fulfilment.endpoints import router as outbox_router
from livedesk.fulfilment.sender import OutboxSender
from livedesk.ingest.endpoints import router as webhooks_router
from livedesk.ingest.platforms.endpoints import router as platform_webhooks_router
from livedesk.ingest.platforms.secrets import check_secrets
from livedesk.panels import channel, pages
from livedesk.panels.connection import CLOSE_RESTART
from livedesk.panels.hub import Hub
from livedesk.pipeline import Pipeline
from livedesk.processing import running_pipeline
from livedesk.promotions.endpoints import router as promotions_router
from livedesk.promotions.report import drops as drops_report
from livedesk.promotions.review_endpoints import router as promotion_review_router
from livedesk.rooms.endpoints import router as rooms_router
from livedesk.rulebook.book import Rulebook, load_rulebook
from livedesk.rulesets.endpoints import router as rules_router
from livedesk.rulesets.report import rules_versions as rules_versions_report
from livedesk.rulesets.switching import RuleBooks
from livedesk.show.endpoints import router as show_router

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the lifespan builds and tears down; also reachable as `app.state.<name>`."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: Bus
    rulebook: Rulebook
    # Every rules version this process has loaded, and the newest apply (hot reload).
    rulebooks: RuleBooks
    hub: Hub
    delivery: DeliveryBoard
    # Both None when `livedesk pipeline` processes process the inbox (LIVEDESK_RUN_PIPELINE
    # off); the sender is None too without LIVEDESK_FULFILMENT_URL (grants wait in the outbox).
    pipeline: Pipeline | None
    sender: OutboxSender | None


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    logs.configure(settings.log_format, settings.log_level)
    rulebook = load_rulebook(settings.rules_dir)  # a bad rule file stops start-up, with its line
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        silent_client_timeout_s=settings.db_silent_client_timeout_s,
    )
    # An unmigrated database: say so once and answer /readyz 503 with the fix, rather than
    # start loops that fail on missing tables every second.
    app.state.schema_problem = await schema_problem(engine, settings.database_url)
    if app.state.schema_problem:
        log.error("%s (then restart the server)", app.state.schema_problem)
        app.state.engine = engine
        yield
        await engine.dispose()
        return
    sessions = session_factory(engine)
    bus = create_bus(settings.redis_url)
    delivery = DeliveryBoard(app.state.acks, bus)
    hub = Hub(sessions, bus, settings.resume_max_messages, delivery)
    # Each domain that adds to the post-session review:
    # async (session, room_id, window: the session's (start, end) or None) -> dict.
    app.state.report_parts = [drops_report, rules_versions_report]
    async with AsyncExitStack() as stack:
        stack.push_async_callback(engine.dispose)
        stack.push_async_callback(bus.close)
        await delivery.start()
        stack.push_async_callback(delivery.close)
        # Endpoints read app.state.rulebook: the newest applied version, once this process
        # knows of it (the pipeline decides per room, at one seq: see rulesets.switching).
        rulebooks = RuleBooks(
            sessions, bus, rulebook, on_change=lambda book: setattr(app.state, "rulebook", book)
        )
        await rulebooks.start()
        stack.push_async_callback(rulebooks.close)
        await hub.start()
        stack.push_async_callback(
            hub.close, CLOSE_RESTART, "server restarting: reconnect and resume"
        )
        processing = None
        if settings.run_pipeline:
            processing = await stack.enter_async_context(
                running_pipeline(settings, sessions, bus, rulebooks, delivery)
            )
        services = Services(
            settings,
            engine,
            sessions,
            bus,
            rulebooks.current,
            rulebooks,
            hub,
            delivery,
            pipeline=processing.pipeline if processing else None,
            sender=processing.sender if processing else None,
        )
        for name, value in vars(services).items():
            setattr(app.state, name, value)
        await stack.enter_async_context(runtime.settled())
        yield


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(
        title="livedesk",
        version="0.1.0",
        lifespan=_lifespan,
        dependencies=[Depends(refuse_unstorable_input)],
    )
    app.state.settings = settings or Settings()
    check_secrets(app.state.settings)  # a secret no verifier can use: refuse to start
    # This worker's recent webhook answers, fed by the timer below, read by the delivery board.
    app.state.acks = AckWindow()
    app.include_router(platform_webhooks_router)  # before the generic /{platform} route
    app.include_router(webhooks_router)
    app.include_router(rooms_router)
    app.include_router(hints_router)
    app.include_router(thresholds_router)
    app.include_router(promotions_router)
    app.include_router(promotion_review_router)
    app.include_router(outbox_router)
    app.include_router(customers_router)
    app.include_router(afterstream_router)
    app.include_router(show_router)
    app.include_router(rules_router)
    app.include_router(channel.router)
    app.include_router(pages.router)
    app.include_router(_health_router())
    app.mount("/static", StaticFiles(directory=asset_dir("static")), name="static")
    _install_error_handlers(app)
    openapi.install(app)
    app.add_middleware(metrics.WebhookTimer, on_answer=app.state.acks.record)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    install_error_handlers(app)

    async def _database_down(_request: Request, exc: Exception) -> Response:
        settings: Settings = app.state.settings
        log.warning("database unavailable: %s", exc)
        return JsonResponse(
            {"error": "database unavailable, retry later"},
            status_code=503,
            headers={"Retry-After": str(settings.retry_after_s)},
        )

    for exc_type in (OperationalError, DBAPIError, PoolTimeout, OSError, ConnectionError):
        app.add_exception_handler(exc_type, _database_down)

    @app.exception_handler(LoginRequired)
    async def _login(_request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?next={exc.next_path}", status_code=303)


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        responses={
            200: {"model": Readiness, "description": "Every backend is ok"},
            503: {"model": Readiness, "description": "A backend is unavailable"},
        },
    )
    async def readyz(request: Request) -> Response:
        problem = getattr(request.app.state, "schema_problem", None)
        if problem:
            return JsonResponse({"database": problem}, status_code=503)
        checks: dict[str, str] = {}
        try:
            async with request.app.state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        if request.app.state.settings.redis_url:
            healthy = await request.app.state.bus.healthy()
            checks["redis"] = "ok" if healthy else "unavailable"
        # Reads can work while writes do not (a lock held elsewhere): the webhooks' own answers
        # say whether events are being taken now, on every worker.
        refused = request.app.state.delivery.current.errors_10s
        checks["webhooks"] = f"refusing: {refused} answered 5xx in 10 s" if refused else "ok"
        ready = all(value == "ok" for value in checks.values())
        return JsonResponse(checks, status_code=200 if ready else 503)

    @router.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={
            200: {
                "content": {"text/plain": {"schema": {"type": "string"}}},
                "description": "Prometheus text exposition format (version 0.0.4)",
            }
        },
    )
    async def prometheus_metrics() -> Response:
        body, media_type = metrics.render()
        return Response(body, media_type=media_type)

    return router
