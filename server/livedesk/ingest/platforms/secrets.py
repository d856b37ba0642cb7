"""The one place anything asks for a platform's signing secrets, and the start-up check of them.

Several secrets may be valid for one platform at once (old and new during a rotation, as
Standard Webhooks allows), so the answer is a list and verifiers accept a request signed with
any of them. `check_secrets` runs before the server starts: a secret its platform's verifier
could not use stops start-up with a message naming the platform, where it would otherwise
answer every webhook of that platform with a 500.
"""

from __future__ import annotations

from livedesk.core.settings import Settings
from livedesk.ingest.signing import standard_secret_key

# Platforms that sign with a scheme of their own (their adapters' routes). Every other platform
# posts livedesk's generic format signed with Standard Webhooks: its secrets are whsec_<base64>.
OWN_SCHEMES = frozenset({"douyin", "douyin_open", "doudian", "kuaishou", "wechat_shop"})


def secrets_for(settings: Settings, platform: str, kind: str | None = None) -> list[str]:
    """Every secret `platform`'s requests may be signed with now, oldest first; a message
    kind's own (`douyin.live_gift`) replace the platform's. Empty when none is set."""
    configured = settings.all_webhook_secrets()
    if kind is not None and f"{platform}.{kind}" in configured:
        return list(configured[f"{platform}.{kind}"])
    return list(configured.get(platform, []))


def standard_webhooks_secrets(settings: Settings, platform: str) -> list[str]:
    """The secrets of a platform that posts the generic format; empty for unknown platforms and
    for those with a scheme of their own (their secrets are no Standard Webhooks keys)."""
    if platform in OWN_SCHEMES:
        return []
    return secrets_for(settings, platform)


def check_secrets(settings: Settings) -> None:
    """Raise ValueError, naming the platform (never the secret), for a secret its verifier
    could not use."""
    for key, secrets in settings.webhook_secrets.items():
        platform, _, kind = key.partition(".")
        if platform in OWN_SCHEMES:
            continue
        if kind:
            raise ValueError(
                f"LIVEDESK_WEBHOOK_SECRETS: {key}: secrets per message type are for platforms "
                f"with a scheme of their own ({', '.join(sorted(OWN_SCHEMES))})"
            )
        for position, secret in enumerate(secrets, start=1):
            try:
                usable = bool(standard_secret_key(secret))
            except ValueError:
                usable = False
            if not usable:
                raise ValueError(
                    f"LIVEDESK_WEBHOOK_SECRETS: {platform}'s secret {position} is not a Standard "
                    "Webhooks secret (whsec_ followed by base64)"
                )
