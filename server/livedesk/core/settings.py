"""The one settings class: every knob is a LIVEDESK_* environment variable (or .env line)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Demo secrets are only used when `demo_mode` is on; production must set its own.
DEMO_WEBHOOK_SECRETS = {
    "generic": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "douyin": "livedesk-demo-douyin-secret",
}
# What the demo's built-in fulfilment receiver and the server share, in demo mode only.
DEMO_FULFILMENT_SECRET = "whsec_ZGVtby1mdWxmaWxtZW50LXJlY2VpdmVyLWtleQ=="


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIVEDESK_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./livedesk.db"
    redis_url: str | None = None
    rules_dir: Path = Path("./rules")
    # "generic=whsec_...,douyin=...,douyin.live_gift=..." (Douyin may sign each message type
    # apart); a platform named twice has two secrets, both valid (old and new in a rotation).
    webhook_secrets: Annotated[dict[str, list[str]], NoDecode] = Field(default_factory=dict)
    demo_mode: bool = False
    # livedesk's own log lines: "text" for people, "json" (one object a line) for collectors.
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Origins allowed to open the live channel; empty means same-origin only.
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    session_ttl_s: int = 12 * 3600
    cookie_secure: bool = False

    webhook_max_body_bytes: int = 1024 * 1024
    webhook_max_events: int = 1000
    webhook_tolerance_s: int = 300
    # An event dated more than this after its receipt is dated at its receipt (ingest.timestamps).
    event_max_ahead_s: int = Field(default=60, ge=0, le=3600)
    retry_after_s: int = 2
    # A webhook whose events cannot be stored within this long is answered 503 + Retry-After:
    # platforms give ~2 s (Douyin's live push) before they count a failure, so a fast refusal
    # they retry beats a 202 that arrives too late to count.
    webhook_write_timeout_s: float = Field(default=1.0, gt=0, le=10)

    db_pool_size: int = 10
    # PostgreSQL ends a serving process's session whose client went silent this long (idle
    # inside a transaction, or its connection unanswered), releasing its row locks: a host cut
    # off the network mid-batch keeps its transactions open on the server (no reset ever
    # comes), and the other hosts' batches and heartbeats would wait on them for hours.
    # livedesk's own transactions never idle that long between statements.
    db_silent_client_timeout_s: float = Field(default=10.0, ge=1.0, le=3600.0)
    # Pipeline: how many inbox events one room transaction takes at most, and how often idle
    # workers look for stranded work when no doorbell rang.
    pipeline_batch_size: int = 500
    pipeline_poll_interval_s: float = 1.0
    pipeline_concurrency: int = 4
    # Room ownership (livedesk.ownership): a pipeline process holds each room's lease this
    # long unrenewed, and renews (heartbeats) this often. A dead process's rooms wait up to
    # lease_ttl_s for the others; a process stalled longer than that loses its rooms.
    lease_ttl_s: float = Field(default=10.0, ge=1.0, le=300.0)
    lease_renew_s: float = Field(default=2.0, ge=0.1, le=60.0)
    # False: this web worker only takes webhooks and serves panels, and `livedesk pipeline`
    # processes (started by `livedesk serve --pipeline-processes N`) process the inbox.
    run_pipeline: bool = True
    # How much a `livedesk pipeline` process lowers its CPU priority (os.nice): on a saturated
    # machine the web workers' acks go first and processing lags, the inbox holding the events.
    pipeline_nice: int = Field(default=10, ge=0, le=19)

    # Live channel bounds: history kept for resume, per-connection send buffer, heartbeats.
    resume_max_messages: int = 5000
    ws_send_buffer_bytes: int = 1024 * 1024
    ws_heartbeat_s: float = 15.0
    # A ping unanswered this long means the client is that far behind on what it is sent
    # (kernel buffers hide a slow reader from the send buffer's bound): closed as slow (4008).
    ws_pong_timeout_s: float = 20.0
    ws_auth_timeout_s: float = 5.0
    # How long a new socket may take to say where it resumes before it gets a snapshot.
    ws_resume_grace_s: float = Field(default=0.1, ge=0, le=1.0)
    # What a client may send: frames of at most this size (closed 1009 beyond), at this rate.
    ws_max_frame_bytes: int = Field(default=4096, ge=512)
    ws_client_frames_per_s: float = Field(default=10.0, gt=0)
    kpi_interval_s: float = 1.0

    # Retention (livedesk.pruning, `livedesk prune`): processed inbox events, room log messages
    # (a room's last resume_max_messages always stay) and Idempotency-Keys older than these.
    inbox_retention_days: float = Field(default=30, gt=0)
    room_log_retention_days: float = Field(default=90, gt=0)
    idempotency_retention_hours: float = Field(default=24, ge=1)

    # Fulfilment: grants leave through the outbox as signed Standard Webhooks to this URL.
    # Unset: no sender runs and grants wait in the outbox, pending, until one is configured.
    fulfilment_url: str | None = None
    fulfilment_secret: str | None = None  # whsec_<base64>; required with a URL outside demo mode
    fulfilment_timeout_s: float = Field(default=10.0, gt=0)
    # Dead after this many failed attempts; each retry waits a capped, jittered exponential delay.
    fulfilment_max_attempts: int = Field(default=12, ge=1)
    fulfilment_base_delay_s: float = Field(default=2.0, gt=0)
    fulfilment_max_delay_s: float = Field(default=900.0, gt=0)
    fulfilment_batch_size: int = Field(default=20, ge=1, le=1000)
    fulfilment_poll_interval_s: float = Field(default=1.0, gt=0)

    # Shop APIs: order notices (抖店, 微信小店) carry only an order id; the fetcher reads the
    # order's detail from the shop. The 抖店 app secret is LIVEDESK_WEBHOOK_SECRETS' `doudian`
    # (the same secret signs its pushes and its API calls); 微信小店's push token is
    # `wechat_shop` there, its API needs the AppSecret below.
    doudian_api_url: str = "https://openapi-fxg.jinritemai.com"
    doudian_app_key: str | None = None
    wechat_shop_api_url: str = "https://api.weixin.qq.com"
    wechat_shop_app_id: str | None = None
    wechat_shop_app_secret: str | None = None
    # Safe mode (安全模式): the 43-character EncodingAESKey the push bodies are encrypted with.
    wechat_shop_aes_key: str | None = None
    shop_api_timeout_s: float = Field(default=5.0, gt=0)
    shop_api_rate_per_s: float = Field(default=10.0, gt=0)
    # A notice whose shop API keeps failing is dead after this many failures in a row; each
    # retry waits a capped, jittered exponential delay (or the platform's Retry-After).
    shop_api_max_attempts: int = Field(default=12, ge=1)
    shop_api_base_delay_s: float = Field(default=1.0, gt=0)
    shop_api_max_delay_s: float = Field(default=300.0, gt=0)
    shop_fetch_poll_interval_s: float = Field(default=1.0, gt=0)

    @field_validator("wechat_shop_aes_key")
    @classmethod
    def _aes_key_shape(cls, value: str | None) -> str | None:
        # WeChat's EncodingAESKey: 43 base64 characters (a 32-byte key without its "=").
        if value is not None and not re.fullmatch(r"[A-Za-z0-9+/]{43}", value):
            raise ValueError("LIVEDESK_WECHAT_SHOP_AES_KEY must be WeChat's 43-character key")
        return value

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _parse_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_webhook_secrets(value)
        if isinstance(value, dict):  # from code: one secret (a string) or several (a list)
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _fulfilment_is_signed(self) -> Settings:
        if self.fulfilment_url and self.fulfilment_signing_secret() is None:
            raise ValueError("LIVEDESK_FULFILMENT_URL needs LIVEDESK_FULFILMENT_SECRET (whsec_...)")
        return self

    @model_validator(mode="after")
    def _leases_are_renewed_in_time(self) -> Settings:
        if self.lease_renew_s * 2 > self.lease_ttl_s:
            raise ValueError("LIVEDESK_LEASE_RENEW_S must be at most half LIVEDESK_LEASE_TTL_S")
        return self

    def fulfilment_signing_secret(self) -> str | None:
        """The secret outgoing webhooks are signed with; the demo one in demo mode."""
        if self.fulfilment_secret:
            return self.fulfilment_secret
        return DEMO_FULFILMENT_SECRET if self.demo_mode else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def uvicorn_options(self) -> dict[str, object]:
        """How uvicorn serves the app (`livedesk serve` and the tests alike): the sans-io
        websockets without deflate (it doubles CPU per delivery, MEASURED.md), and client
        frames capped before anything reads them (1009 beyond, even before signing in)."""
        return {
            "ws": "websockets-sansio",
            "ws_per_message_deflate": False,
            "ws_max_size": self.ws_max_frame_bytes,
        }

    def all_webhook_secrets(self) -> dict[str, list[str]]:
        """Every platform's secrets, the demo ones too in demo mode (a configured platform's
        own replace its demo one). Look one up with `ingest.platforms.secrets.secrets_for`."""
        if not self.demo_mode:
            return self.webhook_secrets
        return {**{k: [v] for k, v in DEMO_WEBHOOK_SECRETS.items()}, **self.webhook_secrets}


_SECRET_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}(\.[A-Za-z0-9_]{1,64})?")


def parse_webhook_secrets(text: str) -> dict[str, list[str]]:
    """`platform=secret` items separated by commas, a platform named again for a second secret
    (`generic=whsec_old,generic=whsec_new` during a rotation). Errors name the item by its
    position and never echo a secret (they end up in logs)."""
    secrets: dict[str, list[str]] = {}
    for position, item in enumerate(text.split(","), start=1):
        if not item.strip():
            continue
        key, equals, secret = (part.strip() for part in item.partition("="))
        where = f"item {position}"
        if not equals:
            raise ValueError(f"{where} is not platform=secret (no '=')")
        if not _SECRET_KEY.fullmatch(key):
            raise ValueError(
                f"{where}: the platform must be a name like generic or douyin.live_gift "
                "(lowercase letters, digits, _; an optional .message_type)"
            )
        if not secret:
            raise ValueError(f"{where} ({key}) has an empty secret")
        if secret not in secrets.setdefault(key, []):
            secrets[key].append(secret)
    return secrets
